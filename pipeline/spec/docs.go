package spec

import (
	"fmt"
	"strings"
)

// Markdown renders the component's reference page. Every page has the
// same sections in the same order; a section that does not apply says so.
func Markdown(c *Component) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# `%s` %s\n\n", c.Name, c.Role)
	b.WriteString("<!-- Generated from the component's spec by `make docs`; do not edit. -->\n\n")
	b.WriteString("## Summary\n\n")
	fmt.Fprintf(&b, "%s\n\n", c.Summary)
	fmt.Fprintf(&b, "Stability: %s. %s\n\n", stabilityOr(c.Stability), ioLine(c))
	b.WriteString("## Usage\n\n```yaml\n")
	b.WriteString(Usage(c))
	b.WriteString("```\n\n## Fields\n\n")
	if len(c.Fields) == 0 {
		b.WriteString("This component takes no fields.\n\n")
	} else {
		b.WriteString("| Name | Type | Default | Required | Description |\n|---|---|---|---|---|\n")
		for _, row := range flatten(c.Fields, "") {
			cell := func(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", row.path, cell(row.f.TypeString()), cell(defaultCell(row.f)), yesNo(row.f.Required()), cell(row.f.Doc))
		}
		b.WriteString("\n")
	}
	b.WriteString("## Behaviour and backpressure\n\n")
	if c.Description != "" {
		b.WriteString(strings.TrimSpace(c.Description) + "\n\n")
	} else {
		b.WriteString("Not applicable.\n\n")
	}
	b.WriteString("## Metrics and health\n\n")
	b.WriteString("Every component reports events in and out, drops, errors, queue depth, busy time and health in the status API.")
	if len(c.Metrics) > 0 {
		b.WriteString(" This one also reports:\n\n")
		for _, m := range c.Metrics {
			fmt.Fprintf(&b, "- `%s`: %s\n", m.Name, m.Doc)
		}
	}
	b.WriteString("\n\n## Examples\n\n")
	if len(c.Examples) == 0 {
		b.WriteString("Not applicable.\n")
	}
	for _, ex := range c.Examples {
		fmt.Fprintf(&b, "### %s\n\n```yaml\n%s```\n\n", ex.Title, ensureNL(ex.YAML))
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}

// Text renders the docs for a terminal (nfpipe stages TYPE).
func Text(c *Component) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s, %s)\n  %s\n  %s\n\n", c.Name, c.Role, stabilityOr(c.Stability), c.Summary, ioLine(c))
	if c.Description != "" {
		for _, line := range strings.Split(strings.TrimSpace(c.Description), "\n") {
			fmt.Fprintf(&b, "  %s\n", line)
		}
		b.WriteString("\n")
	}
	if len(c.Fields) > 0 {
		b.WriteString("Fields:\n")
		for _, row := range flatten(c.Fields, "") {
			req := ""
			if row.f.Required() {
				req = ", required"
			}
			fmt.Fprintf(&b, "  %-28s %s%s (default: %s)\n      %s\n", row.path, row.f.TypeString(), req, defaultCell(row.f), row.f.Doc)
		}
		b.WriteString("\n")
	}
	if len(c.Metrics) > 0 {
		b.WriteString("Metrics:\n")
		for _, m := range c.Metrics {
			fmt.Fprintf(&b, "  %-28s %s\n", m.Name, m.Doc)
		}
		b.WriteString("\n")
	}
	b.WriteString("Usage:\n")
	for _, line := range strings.Split(strings.TrimRight(Usage(c), "\n"), "\n") {
		fmt.Fprintf(&b, "  %s\n", line)
	}
	for _, ex := range c.Examples {
		fmt.Fprintf(&b, "\nExample: %s\n", ex.Title)
		for _, line := range strings.Split(strings.TrimRight(ex.YAML, "\n"), "\n") {
			fmt.Fprintf(&b, "  %s\n", line)
		}
	}
	return b.String()
}

// Usage is the minimal YAML block: the type, inputs and required fields.
func Usage(c *Component) string {
	var b strings.Builder
	section := "stages"
	if c.Role == RoleSink {
		section = "sinks"
	}
	fmt.Fprintf(&b, "%s:\n  my_%s:\n    type: %s\n", section, c.Name, c.Name)
	if !c.Source {
		b.WriteString("    inputs: [upstream]\n")
	}
	for _, f := range c.Fields {
		if f.Required() {
			ex := f.Example
			if ex == "" {
				ex = "..."
			}
			fmt.Fprintf(&b, "    %s: %s\n", f.Name, ex)
		}
	}
	return b.String()
}

type row struct {
	path string
	f    *Field
}

func flatten(fs []*Field, prefix string) []row {
	var out []row
	for _, adv := range []bool{false, true} {
		for _, f := range fs {
			if f.Advanced != adv {
				continue
			}
			out = append(out, row{prefix + f.Name, f})
			switch f.Type {
			case TObject:
				out = append(out, flatten(f.Fields, prefix+f.Name+".")...)
			case TObjects:
				out = append(out, flatten(f.Fields, prefix+f.Name+"[].")...)
			}
		}
	}
	return out
}

func defaultCell(f *Field) string {
	switch {
	case f.Secret && f.HasDefault:
		return "(secret)"
	case f.HasDefault:
		return "`" + f.DefaultText + "`"
	}
	return "—"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func stabilityOr(s Stability) Stability {
	if s == "" {
		return Beta
	}
	return s
}

func ioLine(c *Component) string {
	var parts []string
	if c.Source {
		parts = append(parts, "Source (no inputs).")
	} else {
		parts = append(parts, "Accepts: "+c.Accepts.String()+".")
	}
	if c.Role == RoleStage {
		if c.Passthrough {
			parts = append(parts, "Emits: what it receives.")
		} else {
			parts = append(parts, "Emits: "+c.Emits.String()+".")
		}
	}
	for _, o := range c.Outputs {
		parts = append(parts, fmt.Sprintf("Output `%s`: %s.", o.Name, o.Doc))
	}
	return strings.Join(parts, " ")
}

func ensureNL(s string) string {
	if strings.HasSuffix(s, "\n") {
		return s
	}
	return s + "\n"
}
