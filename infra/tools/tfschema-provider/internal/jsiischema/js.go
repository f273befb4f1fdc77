package jsiischema

import (
	"bufio"
	"io"
	"regexp"
	"strings"
)

// The compiled JavaScript of a cdktn provider package says three things the
// .jsii leaves out: the Terraform name of computed-only attributes, whether a
// collection is a list or a set, and whether a nested block is a list, a set,
// a single block or a map. jsInfo holds them for one lib/<dir>/index.js.
type jsInfo struct {
	// hcl[context][tfName]: the entries of a struct's xxxToHclTerraform
	// function or a class's synthesizeHclAttributes (context lower-cased).
	hcl map[string]map[string]hclEntry
	// getters[class][camelName] from the "// name - computed: …" comments.
	getters map[string]map[string]getterInfo
}

type hclEntry struct {
	isBlock bool
	kind    string // simple, list, set, map, struct
}

type getterInfo struct {
	tfName   string
	computed bool
	optional bool
	required bool
	set      bool // the attribute is a set (cdktn wraps it in tolist or passes wrapsSet)
}

var (
	reClass     = regexp.MustCompile(`^class (\w+) extends`)
	reHCLFunc   = regexp.MustCompile(`^function (\w+)ToHclTerraform\(`)
	reSynthHCL  = regexp.MustCompile(`^\s+synthesizeHclAttributes\(\) \{`)
	reEntry     = regexp.MustCompile(`^\s+([A-Za-z0-9_]+): \{\s*$`)
	reIsBlock   = regexp.MustCompile(`^\s+isBlock: (true|false),`)
	reKind      = regexp.MustCompile(`^\s+type: "(\w+)",`)
	reComment   = regexp.MustCompile(`^\s+// ([A-Za-z0-9_]+) - computed: (true|false), optional: (true|false), required: (true|false)`)
	reGetter    = regexp.MustCompile(`^\s+get (\w+)\(\) \{`)
	reComplex   = regexp.MustCompile(`^\s+_(\w+) = new \w+\(this, "[^"]+"(?:, (true|false))?\);`)
	reFnToList  = regexp.MustCompile(`Fn\.tolist\(`)
	reEndOfAttr = regexp.MustCompile(`^\s+\};?\s*$`)
)

func parseJS(r io.Reader) (*jsInfo, error) {
	info := &jsInfo{hcl: map[string]map[string]hclEntry{}, getters: map[string]map[string]getterInfo{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var (
		class   string // current class
		ctx     string // current HCL context
		entry   string // current HCL entry name
		pending *getterInfo
		getter  string // camel name of the getter whose body we are in
	)
	for sc.Scan() {
		line := sc.Text()
		if m := reClass.FindStringSubmatch(line); m != nil {
			class, ctx, entry, pending, getter = strings.ToLower(m[1]), "", "", nil, ""
			continue
		}
		if m := reHCLFunc.FindStringSubmatch(line); m != nil {
			class, ctx, entry = "", strings.ToLower(m[1]), ""
			continue
		}
		if class != "" && reSynthHCL.MatchString(line) {
			ctx, entry = class, ""
			continue
		}
		if ctx != "" {
			if m := reEntry.FindStringSubmatch(line); m != nil {
				entry = m[1]
				continue
			}
			if entry != "" {
				if m := reIsBlock.FindStringSubmatch(line); m != nil {
					e := info.hcl[ctx][entry]
					e.isBlock = m[1] == "true"
					info.put(ctx, entry, e)
					continue
				}
				if m := reKind.FindStringSubmatch(line); m != nil {
					e := info.hcl[ctx][entry]
					e.kind = m[1]
					info.put(ctx, entry, e)
					entry = ""
					continue
				}
			}
		}
		if class == "" {
			continue
		}
		if m := reComment.FindStringSubmatch(line); m != nil {
			pending = &getterInfo{tfName: m[1], computed: m[2] == "true", optional: m[3] == "true", required: m[4] == "true"}
			getter = ""
			continue
		}
		if pending != nil {
			if m := reGetter.FindStringSubmatch(line); m != nil {
				info.getter(class)[m[1]] = *pending
				getter, pending = m[1], nil
				continue
			}
			if m := reComplex.FindStringSubmatch(line); m != nil {
				g := *pending
				g.set = m[2] == "true"
				info.getter(class)[m[1]] = g
				pending = nil
				continue
			}
		}
		if getter != "" {
			if reFnToList.MatchString(line) {
				g := info.getters[class][getter]
				g.set = true
				info.getters[class][getter] = g
			}
			if reEndOfAttr.MatchString(line) {
				getter = ""
			}
		}
	}
	return info, sc.Err()
}

func (j *jsInfo) put(ctx, name string, e hclEntry) {
	m := j.hcl[ctx]
	if m == nil {
		m = map[string]hclEntry{}
		j.hcl[ctx] = m
	}
	m[name] = e
}

func (j *jsInfo) getter(class string) map[string]getterInfo {
	m := j.getters[class]
	if m == nil {
		m = map[string]getterInfo{}
		j.getters[class] = m
	}
	return m
}
