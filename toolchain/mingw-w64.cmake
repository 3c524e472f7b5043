# The cross build with Debian's mingw-w64, shared by mingw-w64-x86_64.cmake
# and mingw-w64-i686.cmake (which set WINMMAP_MINGW_ARCH); tests run under
# Wine through wine-run.sh (WINMMAP_WINE=8|10 picks the Wine).
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR ${WINMMAP_MINGW_ARCH})
set(CMAKE_C_COMPILER ${WINMMAP_MINGW_ARCH}-w64-mingw32-gcc)
set(CMAKE_RC_COMPILER ${WINMMAP_MINGW_ARCH}-w64-mingw32-windres)

# CUnit built for mingw by setup.sh.
if(NOT WINMMAP_CUNIT_PREFIX AND DEFINED ENV{WINMMAP_CUNIT_PREFIX})
  set(WINMMAP_CUNIT_PREFIX $ENV{WINMMAP_CUNIT_PREFIX})
endif()
set(CMAKE_FIND_ROOT_PATH /usr/${WINMMAP_MINGW_ARCH}-w64-mingw32 ${WINMMAP_CUNIT_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Static executables: Wine then needs no mingw runtime DLLs next to them.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
set(CMAKE_CROSSCOMPILING_EMULATOR ${CMAKE_CURRENT_LIST_DIR}/wine-run.sh)
