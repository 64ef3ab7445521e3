# install.cmake — libregula installed: the header, the static library (the
# one the CLI, tests and benches link) and a shared one, a pkg-config file,
# a CMake package, the CLI and its manual page.
#
# The shared library is built from the same sources as the static one and
# copies its compile definitions, options, include directories and link
# libraries from it (so the MPI and OpenBLAS blocks above stay the one
# place that decides them).  Its objects are compiled again, position
# independent, so that the static library's code (and the figures in
# README's Results) do not change.  It exports the functions declared in
# regula.h and nothing else: the version script is made from the header.
#
# find_package(regula) gives regula::regula (shared; needs nothing more);
# find_package(regula COMPONENTS static) adds regula::regula_static, whose
# dependencies (zlib, cJSON, threads, and MPI and OpenBLAS when built with
# them, and LIBXSMM) the package finds.  pkg-config: `pkg-config --libs regula`, or
# `--static` for the dependencies of libregula.a.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
option(RG_SHARED "Build the shared library too (libregula.so)" ON)

set(RG_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/regula)
install(TARGETS regula_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES include/regula.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/regula.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
set_target_properties(regula PROPERTIES EXPORT_NAME regula_static)
install(TARGETS regula EXPORT regulaStaticTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(EXPORT regulaStaticTargets NAMESPACE regula:: DESTINATION ${RG_CMAKE_DIR})

if(RG_SHARED)
  # The exported symbols: every function regula.h declares.
  file(READ include/regula.h RG_HEADER)
  string(REGEX MATCHALL "[ *](rg_[a-z0-9_]+)\\(" RG_API "${RG_HEADER}")
  string(REGEX REPLACE "[ *](rg_[a-z0-9_]+)\\(" "\\1;" RG_API "${RG_API}")
  list(REMOVE_ITEM RG_API "")
  list(REMOVE_DUPLICATES RG_API)
  list(JOIN RG_API "; " RG_API_LIST)
  file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/regula.map "{\n  global: ${RG_API_LIST};\n  local: *;\n};\n")
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS include/regula.h)

  add_library(regula_shared SHARED ${RG_SOURCES})
  foreach(prop COMPILE_DEFINITIONS COMPILE_OPTIONS INCLUDE_DIRECTORIES)
    get_target_property(v regula ${prop})
    if(v)
      set_property(TARGET regula_shared PROPERTY ${prop} "${v}")
    endif()
  endforeach()
  get_target_property(RG_LIBS regula LINK_LIBRARIES)
  target_link_libraries(regula_shared PRIVATE ${RG_LIBS})
  target_include_directories(regula_shared INTERFACE $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
                                                     $<INSTALL_INTERFACE:include>)
  target_link_options(regula_shared PRIVATE "LINKER:--version-script=${CMAKE_CURRENT_BINARY_DIR}/regula.map")
  set_target_properties(regula_shared PROPERTIES OUTPUT_NAME regula EXPORT_NAME regula
    VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}
    LINK_DEPENDS ${CMAKE_CURRENT_BINARY_DIR}/regula.map)
  install(TARGETS regula_shared EXPORT regulaTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(EXPORT regulaTargets NAMESPACE regula:: DESTINATION ${RG_CMAKE_DIR})
endif()

# What libregula.a needs, for the package and for pkg-config --static.
get_target_property(RG_LIBS regula LINK_LIBRARIES)
set(RG_PC_REQUIRES "zlib libcjson")
set(RG_NEED_MPI OFF)
set(RG_NEED_OPENBLAS OFF)
if("MPI::MPI_C" IN_LIST RG_LIBS)
  set(RG_NEED_MPI ON)
  pkg_check_modules(RG_OMPI QUIET ompi-c)
  pkg_check_modules(RG_MPICH QUIET mpich)
  if(RG_OMPI_FOUND)
    string(APPEND RG_PC_REQUIRES " ompi-c")
  elseif(RG_MPICH_FOUND)
    string(APPEND RG_PC_REQUIRES " mpich")
  endif()
endif()
if("PkgConfig::OPENBLAS" IN_LIST RG_LIBS)
  set(RG_NEED_OPENBLAS ON)
  string(APPEND RG_PC_REQUIRES " openblas")
endif()
set(RG_NEED_XSMM OFF)
if("PkgConfig::XSMM" IN_LIST RG_LIBS)
  set(RG_NEED_XSMM ON)
  string(APPEND RG_PC_REQUIRES " libxsmm")
endif()

# pkg-config: prefix found from the .pc file's own place, so that
# `cmake --install --prefix DIR` works whatever the configured prefix.
file(RELATIVE_PATH RG_PC_UP /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
string(REGEX REPLACE "/$" "" RG_PC_UP "${RG_PC_UP}")
configure_file(cmake/regula.pc.in ${CMAKE_CURRENT_BINARY_DIR}/regula.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/regula.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

configure_package_config_file(cmake/regulaConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/regulaConfig.cmake
  INSTALL_DESTINATION ${RG_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/regulaConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/regulaConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/regulaConfigVersion.cmake
  DESTINATION ${RG_CMAKE_DIR})
