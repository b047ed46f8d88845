# Run with cmake -P by the install_consumer test. Inputs: MUSTER_BINARY_DIR, CONSUMER_SOURCE_DIR,
# WORK_DIR, GENERATOR, CXX_COMPILER and CXX_COMPILER_LAUNCHER (may be empty).
set(prefix "${WORK_DIR}/prefix")
file(REMOVE_RECURSE "${WORK_DIR}")

execute_process(COMMAND "${CMAKE_COMMAND}" --install "${MUSTER_BINARY_DIR}" --prefix "${prefix}"
                OUTPUT_QUIET COMMAND_ERROR_IS_FATAL ANY)

execute_process(COMMAND "${CMAKE_COMMAND}" -S "${CONSUMER_SOURCE_DIR}" -B "${WORK_DIR}/build"
                        -G "${GENERATOR}" -D "CMAKE_PREFIX_PATH=${prefix}"
                        -D "CMAKE_CXX_COMPILER=${CXX_COMPILER}"
                        -D "CMAKE_CXX_COMPILER_LAUNCHER=${CXX_COMPILER_LAUNCHER}"
                        -D CMAKE_BUILD_TYPE=Release
                COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${WORK_DIR}/build" COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND "${WORK_DIR}/build/consumer" COMMAND_ERROR_IS_FATAL ANY)
if(EXISTS "${WORK_DIR}/build/consumer_auth")
  execute_process(COMMAND "${WORK_DIR}/build/consumer_auth" COMMAND_ERROR_IS_FATAL ANY)
endif()
