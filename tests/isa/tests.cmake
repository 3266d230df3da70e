# Golden data for tests/isa/test_objdump.cpp: eBPF objects compiled by clang, the raw bytes of their code
# sections and llvm-objdump's text for them. The test checks our disassembler against llvm-objdump, line by line.
# Included by tests/CMakeLists.txt, so relative paths and CMAKE_CURRENT_BINARY_DIR are those of tests/.

if(NOT EMBPF_BPF_CLANG OR NOT EMBPF_LLVM_OBJCOPY OR NOT EMBPF_LLVM_OBJDUMP)
    message(FATAL_ERROR "the tests need clang, llvm-objcopy and llvm-objdump (tools/install-deps.sh installs them)")
endif()

set(EMBPF_TEST_ISA_DIR "${CMAKE_CURRENT_BINARY_DIR}/isa")
set(EMBPF_TEST_ISA_OUTPUTS "")

# _embpf_isa_objdump_case(<name> [FLAGS ...] SECTIONS <section>...)
# Compiles tests/isa/bpf/<name>.c into <name>.o; writes <name>.objdump and one <name>.<section>.bin per section,
# the section name made a C identifier (".text" -> "_text") as the test expects.
function(_embpf_isa_objdump_case name)
    cmake_parse_arguments(ARG "" "" "FLAGS;SECTIONS" ${ARGN})
    set(dir "${EMBPF_TEST_ISA_DIR}")
    embpf_add_bpf_object(object SOURCE "${CMAKE_CURRENT_LIST_DIR}/bpf/${name}.c" OUTPUT "${dir}/${name}.o"
                         FLAGS ${ARG_FLAGS})
    set(outputs "")
    foreach(section IN LISTS ARG_SECTIONS)
        string(MAKE_C_IDENTIFIER "${section}" section_id)
        set(bin "${dir}/${name}.${section_id}.bin")
        add_custom_command(
            OUTPUT "${bin}"
            COMMAND ${EMBPF_LLVM_OBJCOPY} -O binary "--only-section=${section}" "${object}" "${bin}"
            DEPENDS "${object}"
            COMMENT "Extracting ${section} of ${name}.o"
            VERBATIM)
        list(APPEND outputs "${bin}")
    endforeach()
    # A shell runs the command in the Makefile and Ninja generators, so `>` redirects; clang -target bpf does not
    # exist for the generators where it would not.
    set(dump "${dir}/${name}.objdump")
    add_custom_command(
        OUTPUT "${dump}"
        COMMAND ${EMBPF_LLVM_OBJDUMP} -d --mattr=+alu32 --no-show-raw-insn "${object}" > "${dump}"
        DEPENDS "${object}"
        COMMENT "Disassembling ${name}.o with llvm-objdump"
        VERBATIM)
    list(APPEND outputs "${dump}")
    set(EMBPF_TEST_ISA_OUTPUTS ${EMBPF_TEST_ISA_OUTPUTS} ${outputs} PARENT_SCOPE)
endfunction()

_embpf_isa_objdump_case(loops SECTIONS .text)
_embpf_isa_objdump_case(alu32 FLAGS -mcpu=v3 SECTIONS .text)
_embpf_isa_objdump_case(atomics FLAGS -mcpu=v3 SECTIONS .text)
_embpf_isa_objdump_case(calls FLAGS -mcpu=v2 SECTIONS .text prog)
_embpf_isa_objdump_case(legacy_packet SECTIONS socket)

add_custom_target(embpf_isa_test_data DEPENDS ${EMBPF_TEST_ISA_OUTPUTS})
add_dependencies(embpf_tests embpf_isa_test_data)
target_compile_definitions(embpf_tests PRIVATE EMBPF_TEST_ISA_DIR="${EMBPF_TEST_ISA_DIR}")
