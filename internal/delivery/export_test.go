package delivery

// WaitingForRecorder reports whether the dispatcher admits nothing because
// the recorder's backlog is full.
func (e *Engine) WaitingForRecorder() bool { return e.recFull.Load() }
