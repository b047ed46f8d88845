# Runs muster-sim and checks its exit status and output.
# Variables: MUSTER_SIM (the program), SCENARIO (a file for `muster-sim run`; when empty, ARGS
# alone form the command line), STATUS (the expected exit status), OUTPUT (a regular expression
# the combined output must match, optional), ARGS (more arguments, a semicolon-separated list),
# REPORT and REPORT_OUTPUT (a file the run writes, such as its --json report, and a regular
# expression its text must match; both optional).
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
if(DEFINED REPORT)
  if(NOT EXISTS "${REPORT}")
    message(FATAL_ERROR "${command} wrote no file ${REPORT}")
  endif()
  file(READ "${REPORT}" report_text)
  file(REMOVE "${REPORT}")
  if(NOT report_text MATCHES "${REPORT_OUTPUT}")
    message(FATAL_ERROR "${REPORT} does not match: ${REPORT_OUTPUT}\n${report_text}")
  endif()
endif()
