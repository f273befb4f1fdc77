package openai_test

import (
	"reflect"
	"strings"
)

// walkSDK collects the JSON paths of an openai-go params type: struct fields
// by their json names, slices as "[]", and the variants of a union by the
// value of their "type" (content parts) or "role" (messages) discriminator,
// in brackets: messages[assistant].content[refusal].refusal.
func walkSDK(t reflect.Type, path string, out map[string]bool, depth int) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if depth > 12 {
		out[path] = true
		return
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		walkSDK(t.Elem(), path+"[]", out, depth+1)
		return
	case reflect.Struct:
	default:
		out[path] = true
		return
	}
	if isOpt(t) || t.NumField() == 0 {
		out[path] = true
		return
	}
	if isUnion(t) {
		leaf := true
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !strings.HasPrefix(f.Name, "Of") {
				continue
			}
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			switch {
			case ft.Kind() == reflect.Slice:
				leaf = false
				walkSDK(ft, path, out, depth+1)
			case ft.Kind() == reflect.Struct && !isOpt(ft) && ft.NumField() > 0:
				leaf = false
				disc := discriminator(ft)
				p := path
				if disc != "" && strings.HasSuffix(p, "[]") {
					p = strings.TrimSuffix(p, "[]") + "[" + disc + "]"
				} else if disc != "" {
					p = p + "[" + disc + "]"
				}
				walkSDK(ft, p, out, depth+1)
			default:
				out[path] = true
			}
		}
		if leaf {
			out[path] = true
		}
		return
	}
	any := false
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		any = true
		p := name
		if path != "" {
			p = path + "." + name
		}
		walkSDK(f.Type, p, out, depth+1)
	}
	if !any {
		out[path] = true
	}
}

func isOpt(t reflect.Type) bool {
	return strings.HasPrefix(t.Name(), "Opt[") || t.PkgPath() == "github.com/openai/openai-go/v3/packages/param" && strings.HasPrefix(t.Name(), "Opt")
}

// isUnion: openai-go param unions are structs whose fields are all Of….
func isUnion(t reflect.Type) bool {
	n := 0
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if !strings.HasPrefix(f.Name, "Of") {
			return false
		}
		n++
	}
	return n > 0
}

// discriminator is the constant a union variant carries in its type or role
// field (its default tag).
func discriminator(t reflect.Type) string {
	for _, key := range []string{"type", "role"} {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == key {
				if d := f.Tag.Get("default"); d != "" {
					return d
				}
			}
		}
	}
	return ""
}
