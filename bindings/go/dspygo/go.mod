module github.com/raindrop-dspy/raindrop-dspy/bindings/go/dspygo

go 1.25.0

require (
	github.com/XiaoConstantine/dspy-go v0.86.1
	github.com/raindrop-dspy/raindrop-dspy/bindings/go v0.0.0
)

require (
	github.com/XiaoConstantine/mcp-go v0.3.1 // indirect
	github.com/anthropics/anthropic-sdk-go v1.38.0 // indirect
	github.com/bahlo/generic-list-go v0.2.0 // indirect
	github.com/buger/jsonparser v1.1.2 // indirect
	github.com/invopop/jsonschema v0.13.0 // indirect
	github.com/kr/pretty v0.3.1 // indirect
	github.com/mailru/easyjson v0.7.7 // indirect
	github.com/tidwall/gjson v1.18.0 // indirect
	github.com/tidwall/match v1.2.0 // indirect
	github.com/tidwall/pretty v1.2.1 // indirect
	github.com/tidwall/sjson v1.2.5 // indirect
	github.com/wk8/go-ordered-map/v2 v2.1.8 // indirect
	golang.org/x/sync v0.22.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)

replace github.com/raindrop-dspy/raindrop-dspy/bindings/go => ../
