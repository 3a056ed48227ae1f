package tui

import (
	"fmt"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/kvscope/kvscope/gpuprofile"
	"github.com/kvscope/kvscope/replay/evict"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/sim"
)

// formField indexes the what-if form's inputs.
const (
	fRouter = iota
	fEvict
	fWorkers
	fCache
	fProfile
	fLatency
	fSeed
	fMore
	numFields
)

var fieldLabels = [numFields]string{"router", "eviction", "workers", "cache", "profile", "latency", "seed", "more keys"}
var fieldHints = [numFields]string{
	"name[:k=v,…] e.g. lbgr:preset=code",
	"name[:k=v,…] e.g. rlt",
	"number of workers",
	"N blocks or N tokens; empty: profile's, else 1024000 tokens",
	"GPU profile name or file; empty: none",
	"linear[:cached_ms=,miss_ms=,out_ms=] or engine",
	"scenario seed",
	"key=value;… (rate, time_scale, oversize, keep_outputs, session_timing)",
}

// whatIfForm adds or edits a scenario. It validates with scenario.Parse
// and sim.Resolve and shows the error inline.
type whatIfForm struct {
	st     *styles
	inputs [numFields]lineInput
	focus  int
	// editing is the slot index being edited, -1 when adding.
	editing int
	err     string
	base    scenario.Scenario
	keys    formKeys
}

type formKeys struct{ Next, Prev, Submit, Cancel key.Binding }

func (k formKeys) ShortHelp() []key.Binding { return []key.Binding{k.Next, k.Submit, k.Cancel} }
func (k formKeys) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.Next, k.Prev, k.Submit, k.Cancel}}
}

func newFormKeys() formKeys {
	return formKeys{
		Next:   key.NewBinding(key.WithKeys("tab", "down"), key.WithHelp("tab/↓", "next field")),
		Prev:   key.NewBinding(key.WithKeys("shift+tab", "up"), key.WithHelp("shift+tab/↑", "previous field")),
		Submit: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "replay")),
		Cancel: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
	}
}

// fieldsOf splits a scenario into the form's field values.
func fieldsOf(sc scenario.Scenario) [numFields]string {
	var v [numFields]string
	v[fRouter] = sc.Router.String()
	v[fEvict] = sc.Evict.String()
	v[fWorkers] = strconv.Itoa(sc.Workers)
	if sc.Capacity > 0 {
		v[fCache] = strconv.Itoa(sc.Capacity) + " " + string(sc.Unit)
	}
	v[fProfile] = sc.Profile
	v[fLatency] = sc.Latency.String()
	v[fSeed] = strconv.FormatUint(sc.Seed, 10)
	var more []string
	d := scenario.Default(sc.Router, sc.Evict)
	if sc.Rate > 0 {
		more = append(more, "rate="+strconv.FormatFloat(sc.Rate, 'g', -1, 64))
	}
	if sc.TimeScale != d.TimeScale {
		more = append(more, "time_scale="+strconv.FormatFloat(sc.TimeScale, 'g', -1, 64))
	}
	if sc.Oversize != d.Oversize {
		more = append(more, "oversize="+sc.Oversize)
	}
	if sc.KeepOutputs {
		more = append(more, "keep_outputs=true")
	}
	if sc.SessionTiming != d.SessionTiming {
		more = append(more, "session_timing="+sc.SessionTiming)
	}
	v[fMore] = strings.Join(more, ";")
	return v
}

// buildScenario turns field values into a scenario string and parses and
// resolves it over base. It returns the label (the string as built).
func buildScenario(v [numFields]string, base scenario.Scenario) (string, scenario.Scenario, error) {
	r, e := strings.TrimSpace(v[fRouter]), strings.TrimSpace(v[fEvict])
	if r == "" || e == "" {
		return "", scenario.Scenario{}, fmt.Errorf("router and eviction are required")
	}
	s := r + "+" + e
	add := func(k, val string) {
		if val = strings.TrimSpace(val); val != "" {
			s += ";" + k + "=" + val
		}
	}
	add("workers", v[fWorkers])
	if c := strings.TrimSpace(v[fCache]); c != "" {
		n, unit, _ := strings.Cut(c, " ")
		if k, val, ok := strings.Cut(c, "="); ok { // tokens=N, blocks=N
			n, unit = val, k
		}
		switch strings.TrimSpace(unit) {
		case "", "blocks", "block", "cache_blocks":
			add("cache_blocks", n)
		case "tokens", "token", "cache_tokens":
			add("cache_tokens", n)
		default:
			return "", scenario.Scenario{}, fmt.Errorf("cache %q: want N blocks or N tokens", c)
		}
	} else {
		base.Capacity = 0
	}
	if p := strings.TrimSpace(v[fProfile]); p != "" {
		add("profile", p)
	} else {
		base.Profile = ""
	}
	add("latency", v[fLatency])
	add("seed", v[fSeed])
	for _, kv := range strings.Split(v[fMore], ";") {
		if kv = strings.TrimSpace(kv); kv != "" {
			s += ";" + kv
		}
	}
	sc, err := scenario.Parse(s, base)
	if err != nil {
		return "", sc, err
	}
	if _, err := sim.Resolve(sc); err != nil {
		return "", sc, err
	}
	return s, sc, nil
}

func newWhatIfForm(st *styles, base scenario.Scenario, from scenario.Scenario, editing int) *whatIfForm {
	f := &whatIfForm{st: st, editing: editing, base: base, keys: newFormKeys()}
	vals := fieldsOf(from)
	for i := range f.inputs {
		f.inputs[i] = newLineInput(st, "", fieldHints[i], vals[i], 48)
	}
	f.inputs[0].focused = true
	return f
}

func (f *whatIfForm) KeyMap() help.KeyMap { return f.keys }

func (f *whatIfForm) move(d int) {
	f.inputs[f.focus].focused = false
	f.focus = (f.focus + d + numFields) % numFields
	f.inputs[f.focus].focused = true
}

// formResult is what a key did to the form.
type formResult int

const (
	formOpen formResult = iota
	formCancel
	formSubmit
)

// update handles a message; on submit it returns the validated scenario.
func (f *whatIfForm) update(msg tea.Msg) (formResult, Entry, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		ks := keyString(k.String())
		switch {
		case key.Matches(ks, f.keys.Cancel):
			return formCancel, Entry{}, nil
		case key.Matches(ks, f.keys.Submit):
			var v [numFields]string
			for i := range f.inputs {
				v[i] = f.inputs[i].Value()
			}
			label, sc, err := buildScenario(v, f.base)
			if err != nil {
				f.err = err.Error()
				return formOpen, Entry{}, nil
			}
			return formSubmit, Entry{Label: shortLabel(label, f.base), Scenario: sc}, nil
		case key.Matches(ks, f.keys.Next):
			f.move(1)
			return formOpen, Entry{}, nil
		case key.Matches(ks, f.keys.Prev):
			f.move(-1)
			return formOpen, Entry{}, nil
		}
	}
	if f.inputs[f.focus].Update(msg) {
		f.err = ""
	}
	return formOpen, Entry{}, nil
}

// shortLabel drops the keys of s that the base already has, so labels
// stay short: "lbgr+rlt;workers=8" rather than the whole string.
func shortLabel(s string, base scenario.Scenario) string {
	parts := strings.Split(s, ";")
	out := []string{parts[0]}
	for _, kv := range parts[1:] {
		k, v, _ := strings.Cut(kv, "=")
		b := base
		if err := b.Set(k, v); err == nil && b.String() == base.String() {
			continue
		}
		out = append(out, kv)
	}
	return strings.Join(out, ";")
}

func (f *whatIfForm) View(w int) string {
	st := f.st
	title := "Add a scenario"
	if f.editing >= 0 {
		title = "Edit scenario " + string(rune('A'+f.editing))
	}
	inner := min(max(w-4, 30), 76)
	var lines []string
	lines = append(lines, st.bold.Render("What if… "+title))
	lines = append(lines, st.dim.Render("replays in the background and joins the comparison"))
	lines = append(lines, "")
	for i := range f.inputs {
		f.inputs[i].width = max(inner-14, 10)
		lab := fmt.Sprintf("%-10s", fieldLabels[i])
		if i == f.focus {
			lab = st.accent.Render("▸ " + lab)
		} else {
			lab = "  " + st.dim.Render(lab)
		}
		lines = append(lines, lab+" "+f.inputs[i].View())
	}
	lines = append(lines, "")
	if f.err != "" {
		for _, l := range wrap(f.err, inner-2, "  ") {
			lines = append(lines, st.errText.Render(l))
		}
	} else {
		lines = append(lines, st.dim.Render(fieldHints[f.focus]))
		if names := fieldChoices(f.focus); names != "" {
			for _, l := range wrap(names, inner-2, "  ") {
				lines = append(lines, st.dim.Render(l))
			}
		}
		for _, doc := range []string{fieldDoc(f.focus, f.inputs[f.focus].Value()), fieldParams(f.focus, f.inputs[f.focus].Value())} {
			if doc == "" {
				continue
			}
			for _, l := range wrap(doc, inner-2, "  ") {
				lines = append(lines, st.dim.Render(l))
			}
		}
	}
	lines = append(lines, st.dim.Render("tab/↓ next · shift+tab/↑ previous · enter replay · esc cancel"))
	return box(st, "What-if", "", true, lines, inner+2, len(lines)+2, 0)
}

// fieldChoices lists the names a field accepts, from the registries'
// descriptors: every router, the policies a timed run accepts (not the
// offline ones), the GPU profiles.
func fieldChoices(f int) string {
	switch f {
	case fRouter:
		return "routers: " + strings.Join(route.Names(), ", ")
	case fEvict:
		return "policies: " + strings.Join(timedPolicies(), ", ")
	case fProfile:
		return "profiles: " + strings.Join(gpuprofile.Names(), ", ")
	}
	return ""
}

// timedPolicies are the eviction policies a what-if (a timed run) accepts:
// those whose descriptor is not Offline.
func timedPolicies() []string {
	var out []string
	for _, n := range evict.Names() {
		if in, err := evict.Lookup(n); err == nil && !in.Offline {
			out = append(out, n)
		}
	}
	return out
}

// fieldDoc is the registry's Doc of the component a router or eviction
// field names ("" when it names none): the form shows what the choice is.
func fieldDoc(f int, value string) string {
	name, _, _ := strings.Cut(strings.TrimSpace(value), ":")
	switch f {
	case fRouter:
		if in, ok := route.Lookup(name); ok {
			return name + ": " + in.Doc
		}
	case fEvict:
		if in, err := evict.Lookup(name); err == nil && !in.Offline {
			return name + ": " + in.Doc
		}
	}
	return ""
}

// fieldParams lists the parameters of the component a router or eviction
// field names, as its constructor declares them (key=default and the
// range or choices), or "" when it names none or takes none.
func fieldParams(f int, value string) string {
	name, _, _ := strings.Cut(strings.TrimSpace(value), ":")
	var decls []param.Decl
	switch f {
	case fRouter:
		decls, _ = route.Params(param.Spec{Name: name})
	case fEvict:
		if in, err := evict.Lookup(name); err == nil && !in.Offline {
			decls, _ = evict.Params(param.Spec{Name: name})
		}
	}
	if len(decls) == 0 {
		return ""
	}
	ps := make([]string, len(decls))
	for i, d := range decls {
		r := d.Range()
		if d.Kind == "enum" || d.Kind == "bool" {
			r = "(" + r + ")"
		}
		ps[i] = d.Key + "=" + d.Default + " " + r
	}
	return "parameters (" + name + ":key=value,…): " + strings.Join(ps, ", ")
}
