package openai_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3/responses"

	"github.com/sluice-broker/sluice/internal/openai"
)

// jsonNames are the JSON field names of a struct type.
func jsonNames(t reflect.Type) map[string]bool {
	out := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
}

// Every field openai-go can send in a Responses request, an input item it
// pushes back, a content part or a function tool is one sluice has decided
// on (mapped, ignored or refused with its own message), so that a new SDK
// field is never met with "Unrecognized request argument".
func TestResponsesKnowEverySDKField(t *testing.T) {
	item := jsonNames(reflect.TypeFor[openai.Item]())
	part := jsonNames(reflect.TypeFor[openai.ItemPart]())
	tool := jsonNames(reflect.TypeFor[openai.ResponseTool]())
	for _, extra := range []string{"defer_loading", "allowed_callers", "output_schema", "async"} {
		tool[extra] = true // ignored, see ResponseTool.UnmarshalJSON
	}
	for _, tc := range []struct {
		sdk  reflect.Type
		ours map[string]bool
	}{
		{reflect.TypeFor[responses.ResponseNewParams](), jsonNames(reflect.TypeFor[openai.ResponseRequest]())},
		{reflect.TypeFor[responses.EasyInputMessageParam](), item},
		{reflect.TypeFor[responses.ResponseOutputMessageParam](), item},
		{reflect.TypeFor[responses.ResponseFunctionToolCallParam](), item},
		{reflect.TypeFor[responses.ResponseInputItemFunctionCallOutputParam](), item},
		{reflect.TypeFor[responses.ResponseReasoningItemParam](), item},
		{reflect.TypeFor[responses.ResponseInputTextParam](), part},
		{reflect.TypeFor[responses.ResponseInputImageParam](), part},
		{reflect.TypeFor[responses.ResponseOutputTextParam](), part},
		{reflect.TypeFor[responses.ResponseOutputRefusalParam](), part},
		{reflect.TypeFor[responses.FunctionToolParam](), tool},
	} {
		for name := range jsonNames(tc.sdk) {
			if name == "stream" {
				continue // set by NewStreaming
			}
			if !tc.ours[name] {
				t.Errorf("%s.%s is not decided on", tc.sdk.Name(), name)
			}
		}
	}
}
