package delivery

// WaitingForRecorder reports whether the dispatcher admits nothing because
// the recorder's backlog is full.
func (e *Engine) WaitingForRecorder() bool { return e.recFull.Load() }

// Inflight counts the deliveries in stage (queued, paced, sending,
// recording) and the health watch's backlog (health).
func (e *Engine) Inflight(stage string) int { return e.inflight(stage) }
