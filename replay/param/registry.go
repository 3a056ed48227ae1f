package param

import (
	"fmt"
	"maps"
	"slices"
	"sync"
)

// Registry is a table of components by spec name (eviction policies,
// routers): the table line of each built-in one, and Add for one from
// outside the table (tests and extensions; DESIGN: no init() tricks). It
// is safe for concurrent use, since runs look components up in parallel.
type Registry[T any] struct {
	mu sync.RWMutex
	m  map[string]T
}

// NewRegistry returns a registry holding entries (which it keeps).
func NewRegistry[T any](entries map[string]T) *Registry[T] {
	return &Registry[T]{m: entries}
}

// Names returns the registered names, sorted.
func (r *Registry[T]) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Sorted(maps.Keys(r.m))
}

// Get returns name's entry.
func (r *Registry[T]) Get(name string) (T, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	v, ok := r.m[name]
	return v, ok
}

// Add registers v under name, a valid spec name without parameters not
// yet taken, and returns the function that removes it again (a test
// passes it to t.Cleanup).
func (r *Registry[T]) Add(name string, v T) (remove func(), err error) {
	if sp, err := Parse(name); err != nil || sp.Name != name {
		return nil, fmt.Errorf("register %q: not a plain component name", name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.m[name]; ok {
		return nil, fmt.Errorf("register %s: already registered", name)
	}
	r.m[name] = v
	return func() {
		r.mu.Lock()
		delete(r.m, name)
		r.mu.Unlock()
	}, nil
}
