package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"sort"
	"sync"

	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// jsonlConfig is the exporter's configuration: `path` is the file that receives one OTLP/JSON
// document per line. `headers_path` (optional) receives, for each batch, one JSON object line of
// the request headers the receiver passed on (needs `include_metadata: true` on the receiver).
type jsonlConfig struct {
	Path        string `mapstructure:"path"`
	HeadersPath string `mapstructure:"headers_path"`
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
	c := cfg.(*jsonlConfig)
	return &jsonlExporter{path: c.Path, headersPath: c.HeadersPath}, nil
}

// jsonlExporter writes synchronously: when the receiver answers the HTTP request, the batch is
// already in the file.
type jsonlExporter struct {
	path, headersPath string
	mu                sync.Mutex
	file, headers     *os.File
	json              ptrace.JSONMarshaler
}

func openAppend(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
}

func (e *jsonlExporter) Start(context.Context, component.Host) error {
	f, err := openAppend(e.path)
	if err != nil {
		return err
	}
	e.file = f
	if e.headersPath != "" {
		if e.headers, err = openAppend(e.headersPath); err != nil {
			return errors.Join(err, f.Close())
		}
	}
	return nil
}

func (e *jsonlExporter) Shutdown(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for _, f := range []**os.File{&e.file, &e.headers} {
		if *f != nil {
			errs = append(errs, (*f).Close())
			*f = nil
		}
	}
	return errors.Join(errs...)
}

func (e *jsonlExporter) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

func (e *jsonlExporter) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	buf, err := e.json.MarshalTraces(td)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.file == nil {
		return errors.New("jsonl exporter is not started")
	}
	if e.headers != nil {
		metadata := client.FromContext(ctx).Metadata
		headers := map[string][]string{}
		var keys []string
		for key := range metadata.Keys() {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		for _, key := range keys {
			headers[key] = metadata.Get(key)
		}
		line, err := json.Marshal(headers)
		if err != nil {
			return err
		}
		if _, err := e.headers.Write(append(line, '\n')); err != nil {
			return err
		}
	}
	_, err = e.file.Write(append(buf, '\n'))
	return err
}
