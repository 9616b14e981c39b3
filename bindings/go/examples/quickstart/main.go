// Quickstart: wrap a module, nest another one inside it, report LM usage,
// attach a signal, and print what would have been sent.
//
// By default it writes to a temporary file through the core's file:// sink
// (no network). Set RAINDROP_WRITE_KEY (and optionally RAINDROP_ENDPOINT) and
// pass -live to send to the real API instead.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	raindrop "github.com/raindrop-dspy/raindrop-dspy/bindings/go"
)

func main() {
	live := flag.Bool("live", false, "send to RAINDROP_ENDPOINT / the Raindrop API instead of a file")
	flag.Parse()

	cfg := raindrop.Config{UserID: "user-123", ConvoID: "convo-1"}
	var sink string
	if !*live {
		dir, err := os.MkdirTemp("", "raindrop-quickstart")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(dir)
		sink = filepath.Join(dir, "sent.jsonl")
		cfg.APIKey = "demo-key"
		cfg.Endpoint = "file://" + sink
	}
	client, err := raindrop.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	// A "language model" step: reports its usage through an LM span.
	generate := client.Wrap("generate", raindrop.ModuleFunc(
		func(ctx context.Context, in map[string]any) (map[string]any, error) {
			_, span := raindrop.StartSpan(ctx, raindrop.KindLM, "chat", in)
			answer := fmt.Sprintf("%v is a tiny language model demo.", in["topic"])
			span.End(raindrop.SpanResult{Output: answer, Model: "demo-lm-1",
				PromptTokens: 12, CompletionTokens: 9, FinishReason: "stop"})
			return map[string]any{"answer": answer}, nil
		}))

	// The top-level program calls the nested module with its own ctx.
	program := client.Wrap("qa_program", raindrop.ModuleFunc(
		func(ctx context.Context, in map[string]any) (map[string]any, error) {
			q, _ := in["question"].(string)
			if q == "" {
				return nil, errors.New("empty question")
			}
			return generate.Process(ctx, map[string]any{"topic": q})
		}))

	eventID := raindrop.NewEventID()
	ctx := raindrop.WithCallOptions(context.Background(), raindrop.CallOptions{EventID: eventID})
	out, err := program.Process(ctx, map[string]any{"question": "Raindrop"})
	fmt.Printf("program output: %v (err=%v)\n", out, err)

	_, err = program.Process(context.Background(), map[string]any{"question": ""})
	fmt.Printf("failing call returned: %v\n", err)

	_ = client.Identify("user-123", map[string]any{"plan": "free"})
	_ = client.TrackSignal(raindrop.Signal{EventID: eventID, Name: "thumbs_up", Sentiment: raindrop.SentimentPositive})

	fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.Flush(fctx); err != nil {
		log.Printf("flush: %v", err)
	}
	st, _ := client.Stats()
	fmt.Printf("stats: queued=%d delivered=%d requests=%d\n", st.Queued, st.Delivered, st.Requests)

	if sink != "" {
		if err := client.Close(); err != nil {
			log.Printf("close: %v", err)
		}
		printSink(sink)
	}
}

// printSink prints every request the core wrote to the file sink.
func printSink(p string) {
	f, err := os.Open(p)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	fmt.Println("--- sent ---")
	for sc.Scan() {
		var line struct {
			Route string          `json:"route"`
			Body  json.RawMessage `json:"body"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			log.Fatalf("bad sink line: %v", err)
		}
		body := string(line.Body)
		if len(body) > 600 && strings.HasSuffix(line.Route, "traces") {
			body = body[:600] + "..."
		}
		fmt.Printf("%s %s\n", line.Route, body)
	}
}
