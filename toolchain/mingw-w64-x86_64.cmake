# Cross build for 64-bit Windows (x86_64) with Debian's mingw-w64.
set(WINMMAP_MINGW_ARCH x86_64)
include(${CMAKE_CURRENT_LIST_DIR}/mingw-w64.cmake)
