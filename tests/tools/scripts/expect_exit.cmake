# Runs a command and fails unless it exits with EXPECTED_EXIT: cmake -DEXPECTED_EXIT=N -P expect_exit.cmake [--] CMD ARGS...
# It sits below tests/tools so that tests/CMakeLists.txt does not include it as a build fragment.
# ctest's WILL_FAIL only tells zero from non-zero, and the CLI's statuses 1 (rejected) and 2 (bad input) differ.
# The command's output is passed on, so PASS_REGULAR_EXPRESSION can still check it; a wrong status prints a line
# that the caller's FAIL_REGULAR_EXPRESSION catches, since a pass expression makes ctest ignore the status.
set(command)
set(after_script OFF)
math(EXPR last "${CMAKE_ARGC} - 1")
foreach(i RANGE ${last})
    if(after_script)
        list(APPEND command "${CMAKE_ARGV${i}}")
    elseif(CMAKE_ARGV${i} STREQUAL "-P")
        set(after_script ON)
    endif()
endforeach()
list(POP_FRONT command) # the script itself
# `--` before the command keeps cmake from reading its options (-DNAME) as its own.
list(GET command 0 first)
if(first STREQUAL "--")
    list(POP_FRONT command)
endif()
execute_process(COMMAND ${command} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT status STREQUAL "${EXPECTED_EXIT}")
    message(FATAL_ERROR "unexpected exit status ${status}, expected ${EXPECTED_EXIT}")
endif()
