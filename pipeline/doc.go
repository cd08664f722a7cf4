// Package pipeline is the nfpipe engine: the component registry, loading
// and checking a YAML-declared DAG, and running it with batched, bounded
// queues, ordered start and drain, status and pause/resume.
//
// Components (stages and sinks) live in their own packages, register
// themselves in init() with Register, and are selected by import. The
// engine never imports a concrete component.
package pipeline
