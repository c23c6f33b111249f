package sqlstore

// SetSnapshotHook makes f run after each snapshot batch of a purge is read
// and before it is deleted, until the returned function is called.
func SetSnapshotHook(f func()) (restore func()) {
	old := testHookSnapshotRead
	testHookSnapshotRead = f
	return func() { testHookSnapshotRead = old }
}

// SetEraseHook makes f run after an erasure has read the subject's
// responses and before it deletes them, until the returned function is called.
func SetEraseHook(f func()) (restore func()) {
	old := testHookEraseRead
	testHookEraseRead = f
	return func() { testHookEraseRead = old }
}
