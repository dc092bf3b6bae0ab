# Builds and runs the consumer project in tests/consumer against cmap.
#
#   cmake -DMODE=package|subdirectory -DCMAP_SOURCE_DIR=<src> -DCMAP_BINARY_DIR=<build>
#         -DWORK_DIR=<scratch> [-DCMAKE_CXX_COMPILER=<c++>] [-DCMAKE_GENERATOR=<gen>]
#         [-DCMAKE_MAKE_PROGRAM=<prog>] [-DCONFIG=<config>] -P run_consumer.cmake
#
# package:      cmake --install <CMAP_BINARY_DIR> --prefix <WORK_DIR>/prefix, then configure the
#               consumer with CMAKE_PREFIX_PATH=<WORK_DIR>/prefix.
# subdirectory: configure the consumer with CMAP_SOURCE_DIR, which it add_subdirectory()s.
# Then build and run it. WORK_DIR is wiped first. Any failing step is a FATAL_ERROR showing the
# step's output.
cmake_minimum_required(VERSION 3.25)

foreach(var IN ITEMS MODE CMAP_SOURCE_DIR WORK_DIR)
  if("${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT MODE MATCHES "^(package|subdirectory)$")
  message(FATAL_ERROR "run_consumer.cmake: MODE must be package or subdirectory (got '${MODE}')")
endif()
if(MODE STREQUAL "package" AND "${CMAP_BINARY_DIR}" STREQUAL "")
  message(FATAL_ERROR "run_consumer.cmake: MODE=package needs -DCMAP_BINARY_DIR=...")
endif()

# Runs one step; on failure stops with its output.
function(cmap_consumer_step name)
  message(STATUS "consumer (${MODE}): ${name}")
  execute_process(COMMAND ${ARGN}
    RESULT_VARIABLE result
    OUTPUT_VARIABLE output
    ERROR_VARIABLE output)
  if(NOT result STREQUAL "0")
    string(REPLACE ";" " " command "${ARGN}")
    # Indented lines are printed as they are; others would be re-wrapped by message().
    string(REGEX REPLACE "\n" "\n  " output "  ${output}")
    message(FATAL_ERROR
      "consumer (${MODE}): step '${name}' failed (${result})\n"
      "  ${command}\n${output}")
  endif()
endfunction()

set(consumer_source ${CMAKE_CURRENT_LIST_DIR})
set(consumer_build ${WORK_DIR}/build)
set(prefix ${WORK_DIR}/prefix)

file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

set(config_args)
if(NOT "${CONFIG}" STREQUAL "")
  set(config_args --config ${CONFIG})
endif()

set(configure_args -S ${consumer_source} -B ${consumer_build} -DCMAP_CONSUME=${MODE})
if(NOT "${CMAKE_GENERATOR}" STREQUAL "")
  list(APPEND configure_args -G ${CMAKE_GENERATOR})
endif()
if(NOT "${CMAKE_MAKE_PROGRAM}" STREQUAL "")
  list(APPEND configure_args -DCMAKE_MAKE_PROGRAM=${CMAKE_MAKE_PROGRAM})
endif()
if(NOT "${CMAKE_CXX_COMPILER}" STREQUAL "")
  list(APPEND configure_args -DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER})
endif()
if(NOT "${CONFIG}" STREQUAL "")
  list(APPEND configure_args -DCMAKE_BUILD_TYPE=${CONFIG})
endif()

if(MODE STREQUAL "package")
  cmap_consumer_step(install
    ${CMAKE_COMMAND} --install ${CMAP_BINARY_DIR} --prefix ${prefix} ${config_args})
  list(APPEND configure_args -DCMAKE_PREFIX_PATH=${prefix})
else()
  list(APPEND configure_args -DCMAP_SOURCE_DIR=${CMAP_SOURCE_DIR})
endif()

cmap_consumer_step(configure ${CMAKE_COMMAND} ${configure_args})
cmap_consumer_step(build ${CMAKE_COMMAND} --build ${consumer_build} ${config_args})

# Single-config generators put the program in the build directory, multi-config ones in a
# per-config subdirectory.
set(program ${consumer_build}/cmap_consumer)
if(NOT EXISTS ${program} AND NOT "${CONFIG}" STREQUAL "")
  set(program ${consumer_build}/${CONFIG}/cmap_consumer)
endif()
cmap_consumer_step(run ${program})
message(STATUS "consumer (${MODE}): passed")
