#pragma once
// The `muster-sim soak` command, kept apart from the single-run commands in muster_sim.cpp.

/// Runs `muster-sim soak --seeds N [--seed-base B]`, where argv[1] is "soak". Returns the exit
/// status: 0 when every run kept every invariant, 1 when one broke, 2 on invalid arguments.
int soak_command(int argc, char** argv);

/// Help text of the soak command, for `muster-sim --help`.
extern const char* const soak_command_usage;
