package sqlstore

// SetSnapshotHook makes f run after each snapshot batch of a purge is read
// and before it is deleted, until the returned function is called.
func SetSnapshotHook(f func()) (restore func()) {
	old := testHookSnapshotRead
	testHookSnapshotRead = f
	return func() { testHookSnapshotRead = old }
}
