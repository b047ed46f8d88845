# Runs muster-sim and checks its exit status and output.
# Variables: MUSTER_SIM (the program), SCENARIO (a file for `muster-sim run`; when empty, ARGS
# alone form the command line), STATUS (the expected exit status), OUTPUT (a regular expression
# the combined output must match, optional), ARGS (more arguments, a semicolon-separated list).
if(SCENARIO)
  set(command "${MUSTER_SIM}" run "${SCENARIO}" ${ARGS})
else()
  set(command "${MUSTER_SIM}" ${ARGS})
endif()
execute_process(COMMAND ${command} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT status STREQUAL STATUS)
  message(FATAL_ERROR "${command} exited with ${status}, expected ${STATUS}")
endif()
if(DEFINED OUTPUT AND NOT "${out}${err}" MATCHES "${OUTPUT}")
  message(FATAL_ERROR "the output of ${command} does not match: ${OUTPUT}")
endif()
