package main

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// TestEveryComponentIsDocumentedAndItsExamplesValidate walks the whole
// registry: every type has a summary, every field a description (checked
// at registration), every example decodes cleanly against its spec, and
// the generated READMEs are current.
func TestEveryComponentIsDocumentedAndItsExamplesValidate(t *testing.T) {
	checked := 0
	for _, reg := range pipeline.Default.All() {
		s := reg.Spec
		t.Run(s.Name, func(t *testing.T) {
			if strings.TrimSpace(s.Summary) == "" || strings.TrimSpace(s.Description) == "" {
				t.Errorf("%s: summary and description are required", s.Name)
			}
			if len(s.Examples) == 0 {
				t.Errorf("%s: no examples", s.Name)
			}
			for _, ex := range s.Examples {
				var doc yaml.Node
				if err := yaml.Unmarshal([]byte(ex.YAML), &doc); err != nil {
					t.Errorf("%s: example %q is not YAML: %v", s.Name, ex.Title, err)
					continue
				}
				d := &spec.Decoder{File: s.Name + " example"}
				cfg := reg.NewConfig()
				var node *yaml.Node
				if len(doc.Content) > 0 {
					node = doc.Content[0]
				}
				if !d.DecodeComponent(s, node, s.Name, cfg) {
					t.Errorf("%s: example %q does not validate:\n%v", s.Name, ex.Title, d.Errs)
				}
			}
		})
		checked++
	}
	if checked < 5 {
		t.Fatalf("checked only %d component types; the registry is not wired", checked)
	}
}

func TestGeneratedDocsAreCurrent(t *testing.T) {
	stale, err := generateDocs("../..", true)
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) > 0 {
		t.Errorf("out of date (run make docs): %v", stale)
	}
}
