package trace

import "github.com/kvscope/kvscope/samples"

// LoadSample reads the embedded sample trace name (samples.Names) with
// default options; its Source is "sample:NAME".
func LoadSample(name string) (*Trace, error) {
	data, err := samples.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return LoadBytes("sample:"+name, data, ReadOptions{})
}
