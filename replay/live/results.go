package live

import "github.com/kvscope/kvscope/replay/live/liverun"

// A finished run's types live in liverun, which imports no net/http, so
// that analysis can read runs without depending on the driver; they are
// aliased here for the driver's callers.
type (
	Result       = liverun.Result
	WorkerResult = liverun.WorkerResult
	Record       = liverun.Record
	Status       = liverun.Status
	Plan         = liverun.Plan
	API          = liverun.API
)

// Request outcomes (liverun.Status) and worker protocols (liverun.API).
const (
	Completed = liverun.Completed
	Failed    = liverun.Failed
	TimedOut  = liverun.TimedOut
	Cancelled = liverun.Cancelled

	OpenAI = liverun.OpenAI
	SGLang = liverun.SGLang
)
