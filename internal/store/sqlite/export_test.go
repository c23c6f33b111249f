package sqlite

// OpenWithSyncHook is Open with a function run before each fsync of the
// WAL: the tests use it to stop or kill the store between a commit and the
// fsync that makes it durable.
var OpenWithSyncHook = open
