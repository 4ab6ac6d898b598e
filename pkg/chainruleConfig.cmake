# chainrule's CMake package: find_package(chainrule) after `make install PREFIX=...` (put
# PREFIX in CMAKE_PREFIX_PATH). Relocatable: every path is found from this file's place,
# PREFIX/lib/cmake/chainrule/.
#
#   chainrule::chainrule   the generator (imported executable)
#   chainrule::cr          the runtime, libcr.a (include <cr.h>; links zlib and libm)
#   chainrule::crtrain     the trainer library, libcrtrain.a (for NAME_cli.c from gen --cli)
#
#   chainrule_generate(TARGET tgt SPEC net.lua [ISA scalar|sse2|avx2|avx512|native] [NAME name]
#                      [INFERENCE [WEIGHTS ckpt_or_dir] [MAX_BATCH n]] [CLI] [TUNE file] [OUT_DIR dir])
#   chainrule_generate(TARGET tgt SPEC net.lua DISPATCH x86|isa,isa,... [NAME name]
#                      [INFERENCE [WEIGHTS ckpt_or_dir] [MAX_BATCH n]] [CLI] [TUNE file...] [OUT_DIR dir])
#
# generates NAME.h and NAME.c (and NAME_cli.c with CLI) into OUT_DIR (default
# ${CMAKE_CURRENT_BINARY_DIR}/chainrule/NAME), adds them to tgt with OUT_DIR on its include
# path, compiles NAME.c with the ISA's flags, and links libm. With DISPATCH (gen --dispatch,
# x86 runtime dispatch: x86 for avx512,avx2,sse2,scalar, or a comma list that includes
# scalar; ISA:FAMILY words too, as gen --dispatch takes them) also NAME_ISA.h/.c per ISA, each
# .c compiled with its ISA's flags; NAME.h's functions run the best variant the CPU has.
# TUNE: gen --tune, a tune file from `chainrule tune` (with DISPATCH, one per variant at
# most). NAME defaults to the spec's file
# name without .lua and is passed to gen as --name, so the file names are known when CMake
# configures. The outputs are regenerated exactly when the spec, the weights or the generator
# changed: gen writes a depfile (--depfile, CMake's DEPFILE), and it sets the time of an
# unchanged output older than its inputs to now, so the build tool sees it up to date.
cmake_minimum_required(VERSION 3.20)   # DEPFILE with both the Makefile and Ninja generators

get_filename_component(_chainrule_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)

if(NOT TARGET chainrule::chainrule)
  add_executable(chainrule::chainrule IMPORTED)
  set_target_properties(chainrule::chainrule PROPERTIES
    IMPORTED_LOCATION "${_chainrule_prefix}/bin/chainrule")
  add_library(chainrule::cr STATIC IMPORTED)
  set_target_properties(chainrule::cr PROPERTIES
    IMPORTED_LOCATION "${_chainrule_prefix}/lib/libcr.a"
    INTERFACE_INCLUDE_DIRECTORIES "${_chainrule_prefix}/include/chainrule"
    INTERFACE_LINK_LIBRARIES "z;m")
  add_library(chainrule::crtrain STATIC IMPORTED)
  set_target_properties(chainrule::crtrain PROPERTIES
    IMPORTED_LOCATION "${_chainrule_prefix}/lib/libcrtrain.a"
    INTERFACE_LINK_LIBRARIES "chainrule::cr;-pthread")
endif()
set(CHAINRULE_EXECUTABLE "${_chainrule_prefix}/bin/chainrule")
set(chainrule_FOUND TRUE)

# The compiler flags of generated code for ISA (gen/isa/*.lua's guard, as the Makefile's
# ISA_CFLAGS_<isa>) into the variable named by out.
function(_chainrule_isa_flags isa out)
  if(isa STREQUAL "sse2")
    set(${out} -msse2 PARENT_SCOPE)
  elseif(isa STREQUAL "avx2")
    set(${out} -mavx2 -mfma PARENT_SCOPE)
  elseif(isa STREQUAL "avx512")
    set(${out} -mavx512f -mavx512vl -mavx512bw -mavx512dq -mfma PARENT_SCOPE)
  elseif(isa STREQUAL "native")
    set(${out} -march=native PARENT_SCOPE)
  else()
    set(${out} "" PARENT_SCOPE)
  endif()
endfunction()

function(chainrule_generate)
  cmake_parse_arguments(CRG "INFERENCE;CLI" "TARGET;SPEC;ISA;NAME;WEIGHTS;MAX_BATCH;OUT_DIR;DISPATCH" "TUNE" ${ARGN})
  if(CRG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "chainrule_generate: unknown arguments: ${CRG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT CRG_TARGET OR NOT CRG_SPEC)
    message(FATAL_ERROR "chainrule_generate: TARGET and SPEC are required")
  endif()
  if(NOT TARGET ${CRG_TARGET})
    message(FATAL_ERROR "chainrule_generate: '${CRG_TARGET}' is not a target")
  endif()
  if((CRG_WEIGHTS OR CRG_MAX_BATCH) AND NOT CRG_INFERENCE)
    message(FATAL_ERROR "chainrule_generate: WEIGHTS and MAX_BATCH need INFERENCE")
  endif()
  if(CRG_DISPATCH AND CRG_ISA)
    message(FATAL_ERROR "chainrule_generate: DISPATCH cannot be combined with ISA")
  endif()
  # the generated NAME.c is C: without the language CMake leaves it out of the target and the
  # link fails far from here (a C++-only project)
  get_property(languages GLOBAL PROPERTY ENABLED_LANGUAGES)
  if(NOT "C" IN_LIST languages)
    message(FATAL_ERROR "chainrule_generate: the generated code is C, and this project has not enabled "
      "C: project(<name> C CXX) or enable_language(C) before chainrule_generate")
  endif()
  get_filename_component(spec "${CRG_SPEC}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  if(NOT CRG_NAME)
    get_filename_component(CRG_NAME "${spec}" NAME_WE)
  endif()
  if(NOT CRG_ISA)
    set(CRG_ISA scalar)
  endif()
  if(NOT CRG_OUT_DIR)
    set(CRG_OUT_DIR "${CMAKE_CURRENT_BINARY_DIR}/chainrule/${CRG_NAME}")
  endif()
  get_filename_component(out "${CRG_OUT_DIR}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_BINARY_DIR}")
  # one call per output directory and name: a second would add a second rule for the same files
  get_property(taken GLOBAL PROPERTY _CHAINRULE_GENERATED)
  foreach(entry IN LISTS taken)
    string(REPLACE "|" ";" entry "${entry}")
    list(GET entry 0 taken_file)
    list(GET entry 1 taken_target)
    if(taken_file STREQUAL "${out}/${CRG_NAME}")
      message(FATAL_ERROR "chainrule_generate: ${out}/${CRG_NAME}.h/.c are already generated for target "
        "'${taken_target}': give this call another NAME or OUT_DIR (or link both targets to one library "
        "target that holds the code)")
    endif()
  endforeach()
  set_property(GLOBAL APPEND PROPERTY _CHAINRULE_GENERATED "${out}/${CRG_NAME}|${CRG_TARGET}")

  set(args gen "${spec}" --out "${out}" --name ${CRG_NAME} --depfile "${out}/${CRG_NAME}.d")
  set(outputs "${out}/${CRG_NAME}.h" "${out}/${CRG_NAME}.c")
  if(CRG_DISPATCH)
    list(APPEND args --dispatch ${CRG_DISPATCH})
    if(CRG_DISPATCH STREQUAL "x86")
      set(variants avx512 avx2 sse2 scalar)
    else()
      string(REPLACE "," ";" variants "${CRG_DISPATCH}")
    endif()
    # NAME.h/.c first, as in the depfile (Ninja wants its first target to be the rule's first
    # output); a family variant ISA:FAMILY is NAME_ISA_FAMILY.h/.c. The dispatcher NAME.c
    # needs no flags; each variant its ISA's.
    foreach(v IN LISTS variants)
      string(REPLACE ":" "_" file "${v}")
      list(APPEND outputs "${out}/${CRG_NAME}_${file}.h" "${out}/${CRG_NAME}_${file}.c")
      string(REGEX REPLACE ":.*" "" isa "${v}")
      _chainrule_isa_flags(${isa} isa_flags)
      if(isa_flags)
        set_source_files_properties("${out}/${CRG_NAME}_${file}.c" PROPERTIES COMPILE_OPTIONS "${isa_flags}")
      endif()
    endforeach()
    set(CRG_ISA "dispatch ${CRG_DISPATCH}")
  else()
    list(APPEND args --isa ${CRG_ISA})
    _chainrule_isa_flags(${CRG_ISA} isa_flags)
    if(isa_flags)
      set_source_files_properties("${out}/${CRG_NAME}.c" PROPERTIES COMPILE_OPTIONS "${isa_flags}")
    endif()
  endif()
  set(depends "${spec}" chainrule::chainrule)
  if(CRG_INFERENCE)
    list(APPEND args --inference)
    if(CRG_WEIGHTS)
      get_filename_component(weights "${CRG_WEIGHTS}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
      list(APPEND args --weights "${weights}")
    endif()
    if(CRG_MAX_BATCH)
      list(APPEND args --max-batch ${CRG_MAX_BATCH})
    endif()
  endif()
  foreach(t IN LISTS CRG_TUNE)
    get_filename_component(t "${t}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    list(APPEND args --tune "${t}")
  endforeach()
  if(CRG_CLI)
    list(APPEND args --cli)
    list(APPEND outputs "${out}/${CRG_NAME}_cli.c")
  endif()

  add_custom_command(
    OUTPUT ${outputs}
    COMMAND chainrule::chainrule ${args}
    DEPENDS ${depends}
    DEPFILE "${out}/${CRG_NAME}.d"
    COMMENT "chainrule: generating ${CRG_NAME}.h/.c from ${CRG_SPEC} (${CRG_ISA})"
    VERBATIM)

  target_sources(${CRG_TARGET} PRIVATE ${outputs})
  target_include_directories(${CRG_TARGET} PUBLIC "${out}")
  if(UNIX)
    target_link_libraries(${CRG_TARGET} PRIVATE m)
  endif()
endfunction()
