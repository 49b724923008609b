# td_add_test(NAME SOURCES... LIBS ... [LABELS ...]): one gtest executable per unit, its tests
# discovered individually by ctest.
if(TD_BUILD_TESTS)
  enable_testing()
  find_package(GTest REQUIRED)
  include(GoogleTest)
  # One throwaway PostgreSQL server per ctest run, for the tests that require the fixture `pg`
  # (td_add_test(... FIXTURE pg)); they read its URL from TD_TEST_PG_URL_FILE.
  set(TD_PG_TEST_DIR ${CMAKE_BINARY_DIR}/pg-test)
  add_test(NAME fixture.pg_start COMMAND ${PROJECT_SOURCE_DIR}/scripts/pg-test-server start ${TD_PG_TEST_DIR})
  add_test(NAME fixture.pg_stop COMMAND ${PROJECT_SOURCE_DIR}/scripts/pg-test-server stop ${TD_PG_TEST_DIR})
  set_tests_properties(fixture.pg_start PROPERTIES FIXTURES_SETUP pg LABELS unit)
  set_tests_properties(fixture.pg_stop PROPERTIES FIXTURES_CLEANUP pg LABELS unit)
endif()

function(td_add_test name)
  if(NOT TD_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(T "" "FIXTURE" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main GTest::gmock)
  # Tests may include shared support code as "tests/support/...".
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  # One label per test executable: gtest_discover_tests passes PROPERTIES through a generated
  # script that splits list values, so a second label would be read as a property name.
  list(LENGTH T_LABELS n_labels)
  if(n_labels GREATER 1)
    message(FATAL_ERROR "td_add_test(${name}): give at most one label")
  endif()
  set(labels unit)
  if(n_labels EQUAL 1)
    set(labels ${T_LABELS})
  endif()
  set(fixture_properties)
  if(T_FIXTURE STREQUAL "pg")
    target_compile_definitions(${name} PRIVATE TD_TEST_PG_URL_FILE="${TD_PG_TEST_DIR}/url")
    set(fixture_properties FIXTURES_REQUIRED pg)
  elseif(T_FIXTURE)
    message(FATAL_ERROR "td_add_test(${name}): unknown fixture ${T_FIXTURE}")
  endif()
  gtest_discover_tests(${name}
    DISCOVERY_MODE PRE_TEST
    PROPERTIES LABELS "${labels}" ENVIRONMENT "THREATDESK_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
               ${fixture_properties}
    DISCOVERY_TIMEOUT 60)
endfunction()
