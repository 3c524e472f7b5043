# cmake --install: the headers (in include/winmmap/, so that its <signal.h>,
# <unistd.h> and <setjmp.h> never replace a toolchain's own in a shared
# prefix), the static library, the shared library with its import library,
# a CMake package (find_package(winmmap CONFIG): winmmap::winmmap static,
# winmmap::shared the DLL) and pkg-config files (winmmap: the DLL,
# winmmap-static: the static library).
include(CMakePackageConfigHelpers)

set(winmmap_cmakedir ${CMAKE_INSTALL_LIBDIR}/cmake/winmmap)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/winmmap
  FILES_MATCHING PATTERN "*.h")
install(TARGETS winmmap winmmap_shared EXPORT winmmapTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT winmmapTargets NAMESPACE winmmap:: DESTINATION ${winmmap_cmakedir})

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/winmmapConfig.cmake.in
  ${PROJECT_BINARY_DIR}/winmmapConfig.cmake INSTALL_DESTINATION ${winmmap_cmakedir})
# 0.x: a minor version may change the interface.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/winmmapConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/winmmapConfig.cmake ${PROJECT_BINARY_DIR}/winmmapConfigVersion.cmake
  DESTINATION ${winmmap_cmakedir})

# pkg-config: paths relative to the .pc file, so the tree can be moved.
file(RELATIVE_PATH winmmap_pc_to_prefix ${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig
  ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" winmmap_pc_to_prefix "${winmmap_pc_to_prefix}")
foreach(pc IN ITEMS winmmap winmmap-static)
  configure_file(${CMAKE_CURRENT_LIST_DIR}/${pc}.pc.in ${PROJECT_BINARY_DIR}/${pc}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/${pc}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endforeach()
