# test_gnu_mode.cpp is compiled as a host in CMake's default GNU mode would compile it (-std=gnu++20), where `linux`
# is a predefined macro.
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/test_gnu_mode.cpp PROPERTIES COMPILE_OPTIONS "-std=gnu++20")
