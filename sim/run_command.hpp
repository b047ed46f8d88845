#pragma once
// The `muster-sim run FILE` command, kept apart from the random-run commands in muster_sim.cpp.

/// Runs `muster-sim run FILE [--seed N] [--deep-checks] [--watch NAME]`, where argv[1] is "run".
/// Returns the exit status: 0 when every expectation held, 1 when one failed or an invariant
/// broke, 2 on an invalid file or invalid arguments.
int run_command(int argc, char** argv);

/// Help text of the run command, for `muster-sim --help`.
extern const char* const run_command_usage;
