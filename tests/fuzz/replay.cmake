# Builds without CARELOG_FUZZ: every fuzz target linked with replay_main.cc
# and a CTest entry `<target>_replay` that runs it once over the committed
# corpus in tests/fuzz/corpus/<target>/ (seeds and crash regression inputs).
# The fuzz target list is shared with tests/fuzz/CMakeLists.txt.
include(${CMAKE_CURRENT_LIST_DIR}/targets.cmake)
foreach(t ${CARELOG_FUZZ_TARGETS})
  add_executable(${t}_replay ${CMAKE_CURRENT_LIST_DIR}/${t}.cc ${CMAKE_CURRENT_LIST_DIR}/replay_main.cc)
  target_include_directories(${t}_replay PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${t}_replay PRIVATE ${CARELOG_FUZZ_LIBS_${t}})
  add_test(NAME ${t}_replay COMMAND ${t}_replay ${CMAKE_CURRENT_LIST_DIR}/corpus/${t})
endforeach()
