# Cross build for 32-bit Windows (i686) with Debian's mingw-w64; its tests
# run under 32-bit Wine 8, where the kernel runs 32-bit programs.
set(WINMMAP_MINGW_ARCH i686)
include(${CMAKE_CURRENT_LIST_DIR}/mingw-w64.cmake)
