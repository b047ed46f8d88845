# Runs `muster-sim run` on one scenario file and checks its exit status and output.
# Variables: MUSTER_SIM (the program), SCENARIO (the file), STATUS (the expected exit status),
# OUTPUT (a regular expression the combined output must match, optional), ARGS (more
# arguments, a semicolon-separated list, optional).
execute_process(COMMAND "${MUSTER_SIM}" run "${SCENARIO}" ${ARGS}
                RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT status STREQUAL STATUS)
  message(FATAL_ERROR "muster-sim run ${SCENARIO} exited with ${status}, expected ${STATUS}")
endif()
if(DEFINED OUTPUT AND NOT "${out}${err}" MATCHES "${OUTPUT}")
  message(FATAL_ERROR "the output of muster-sim run ${SCENARIO} does not match: ${OUTPUT}")
endif()
