# Objects for the ELF reader's tests, with llvm-objdump's and llvm-readelf's view of each.
set(EMBPF_TEST_ELF_DIR ${CMAKE_CURRENT_BINARY_DIR}/elf_objects)
set(reader_outputs "")
foreach(name libbpf_style multi_program kfunc map_kinds contradiction map_in_map_init legacy_samples legacy_iproute2
             legacy_unknown many_records)
    embpf_add_bpf_object(object SOURCE ${CMAKE_CURRENT_LIST_DIR}/objects/${name}.c
                         OUTPUT ${EMBPF_TEST_ELF_DIR}/${name}.o NO_PLUGIN_HEADERS)
    add_custom_command(
        OUTPUT ${EMBPF_TEST_ELF_DIR}/${name}.objdump
        COMMAND ${EMBPF_LLVM_OBJDUMP} -d -r -l --mattr=+alu32 ${object} > ${EMBPF_TEST_ELF_DIR}/${name}.objdump
        DEPENDS ${object}
        VERBATIM)
    list(APPEND reader_outputs ${object} ${EMBPF_TEST_ELF_DIR}/${name}.objdump)
endforeach()
add_custom_target(embpf_test_elf_objects DEPENDS ${reader_outputs})
add_dependencies(embpf_tests embpf_test_elf_objects)
target_compile_definitions(embpf_tests PRIVATE EMBPF_TEST_ELF_DIR="${EMBPF_TEST_ELF_DIR}")
