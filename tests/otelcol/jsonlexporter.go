package main

import (
	"context"
	"errors"
	"os"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// jsonlConfig is the exporter's configuration: `path` is the file that receives one OTLP/JSON
// document per line.
type jsonlConfig struct {
	Path string `mapstructure:"path"`
}

func (c *jsonlConfig) Validate() error {
	if c.Path == "" {
		return errors.New("path must be set")
	}
	return nil
}

var jsonlType = component.MustNewType("jsonl")

func newJSONLFactory() exporter.Factory {
	return exporter.NewFactory(
		jsonlType,
		func() component.Config { return &jsonlConfig{} },
		exporter.WithTraces(createJSONLTraces, component.StabilityLevelDevelopment),
	)
}

func createJSONLTraces(_ context.Context, _ exporter.Settings, cfg component.Config) (exporter.Traces, error) {
	return &jsonlExporter{path: cfg.(*jsonlConfig).Path}, nil
}

// jsonlExporter writes synchronously: when the receiver answers the HTTP request, the batch is
// already in the file.
type jsonlExporter struct {
	path string
	mu   sync.Mutex
	file *os.File
	json ptrace.JSONMarshaler
}

func (e *jsonlExporter) Start(context.Context, component.Host) error {
	f, err := os.OpenFile(e.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	e.file = f
	return nil
}

func (e *jsonlExporter) Shutdown(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.file == nil {
		return nil
	}
	err := e.file.Close()
	e.file = nil
	return err
}

func (e *jsonlExporter) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

func (e *jsonlExporter) ConsumeTraces(_ context.Context, td ptrace.Traces) error {
	buf, err := e.json.MarshalTraces(td)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.file == nil {
		return errors.New("jsonl exporter is not started")
	}
	_, err = e.file.Write(append(buf, '\n'))
	return err
}
