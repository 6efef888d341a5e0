// Test-only switches. They make calls that practically never fail fail on
// demand, and turn on checks of the addon's own rules, so that the test
// suite can reach the code that handles those cases
// (test/79-native-faults.test.ts). One mechanism for all of them:
//
//   SOCKETSERVER_TEST_FAULTS=name[,name...]
//
// read once per process, when the addon is first loaded (a child made by
// fork() inherits what its parent read). An unknown name makes every load of
// the addon fail (TypeError ERR_INVALID_ARG_VALUE), so that a test never
// believes a switch is on when it is not. The names are listed in
// test_faults.cc with what each one does.
//
// Not for production use. They are compiled into every build, release
// included, on purpose: the suite tests the binary that ships (a prebuilt one
// too), not a debug variant of it. A switch that is off costs the read of a
// flag written once at load, on paths that are cold (the failure sites) or
// taken once per serve-thread event; without the variable nothing changes.
#pragma once

#include <napi.h>

namespace socketserver {

enum class TestFault : unsigned {
  kChildWatchLoop,       // childwatch_loop: napi_get_uv_event_loop fails in new ChildWatch()
  kChildWatchPollStart,  // childwatch_poll_start: uv_poll_start fails (UV_ENOMEM) there
  kServeTsfnCall,        // serve_tsfn_call: the serve thread's napi_call_threadsafe_function
                         // fails (napi_closing), queuing nothing
  kCheckForkLock,        // check_fork_lock: report, once, on stderr, a lock that a native
                         // thread takes against the rule of fork.h
  kCount
};

// Reads SOCKETSERVER_TEST_FAULTS (once per process); throws on an unknown
// name. Called when the addon loads into an environment.
void LoadTestFaults(Napi::Env env);

// Whether the switch is on. Any thread; cheap.
bool TestFaultOn(TestFault fault);

}  // namespace socketserver
