package samples

import (
	"embed"
	"io/fs"
	"sort"
)

//go:embed *.jsonl LICENSE-*
var files embed.FS

// Mooncake is the name of the embedded Mooncake conversation slice, the
// default sample of `kvscope` with no arguments.
const Mooncake = "mooncake_conversation_2000.jsonl"

// Open opens an embedded sample by name.
func Open(name string) (fs.File, error) { return files.Open(name) }

// ReadFile returns an embedded sample's bytes.
func ReadFile(name string) ([]byte, error) { return files.ReadFile(name) }

// Names lists the embedded traces, sorted.
func Names() []string {
	ents, _ := fs.Glob(files, "*.jsonl")
	sort.Strings(ents)
	return ents
}
