module github.com/raindrop-dspy/raindrop-dspy/bindings/go

go 1.22
