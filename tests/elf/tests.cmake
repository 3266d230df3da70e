# Test data for tests/elf/test_btf.cpp: eBPF objects clang compiles from tests/elf/btf/*.c and the raw bytes of
# their .BTF and .BTF.ext sections, which the BTF parser reads as the ELF reader would hand them over.
# Included by tests/CMakeLists.txt, so CMAKE_CURRENT_BINARY_DIR is that of tests/.

if(NOT EMBPF_BPF_CLANG OR NOT EMBPF_LLVM_OBJCOPY)
    message(STATUS "embpf: clang or llvm-objcopy missing; the BTF tests on compiled objects are skipped")
    return()
endif()

set(EMBPF_TEST_BTF_DIR "${CMAKE_CURRENT_BINARY_DIR}/elf/btf")
set(EMBPF_TEST_BTF_OUTPUTS "")

# _embpf_btf_case(<name>): compiles tests/elf/btf/<name>.c into <name>.o and extracts <name>.btf and
# <name>.btf.ext.
function(_embpf_btf_case name)
    set(dir "${EMBPF_TEST_BTF_DIR}")
    embpf_add_bpf_object(object SOURCE "${CMAKE_CURRENT_LIST_DIR}/btf/${name}.c" OUTPUT "${dir}/${name}.o"
                         FLAGS -ffreestanding)
    # `-O binary` writes only SHF_ALLOC sections, so an empty file for .BTF; --dump-section writes any section's
    # bytes. llvm-objcopy still wants an output object, hence the scratch copy.
    set(btf "${dir}/${name}.btf")
    set(ext "${dir}/${name}.btf.ext")
    add_custom_command(
        OUTPUT "${btf}" "${ext}"
        COMMAND ${EMBPF_LLVM_OBJCOPY} --dump-section ".BTF=${btf}" --dump-section ".BTF.ext=${ext}" "${object}"
                "${dir}/${name}.scratch.o"
        DEPENDS "${object}"
        BYPRODUCTS "${dir}/${name}.scratch.o"
        COMMENT "Extracting .BTF and .BTF.ext of ${name}.o"
        VERBATIM)
    set(EMBPF_TEST_BTF_OUTPUTS ${EMBPF_TEST_BTF_OUTPUTS} "${btf}" "${ext}" PARENT_SCOPE)
endfunction()

_embpf_btf_case(types)
_embpf_btf_case(funcs)
_embpf_btf_case(core)

add_custom_target(embpf_btf_test_data DEPENDS ${EMBPF_TEST_BTF_OUTPUTS})
add_dependencies(embpf_tests embpf_btf_test_data)
target_compile_definitions(embpf_tests PRIVATE EMBPF_TEST_BTF_DIR="${EMBPF_TEST_BTF_DIR}"
                                               EMBPF_TEST_BTF_SOURCE_DIR="${CMAKE_CURRENT_LIST_DIR}/btf")
