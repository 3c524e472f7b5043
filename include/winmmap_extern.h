/* WINMMAP_EXTERN marks the public functions: the only symbols the shared
 * library (libwinmmap.dll, libwinmmap.so) exports.  Consumers need no macro:
 * calls into a DLL go through the import library's stubs. */
#ifndef WINMMAP_EXTERN_H
#define WINMMAP_EXTERN_H

#ifdef WINMMAP_BUILDING_SHARED
#ifdef _WIN32
#define WINMMAP_EXTERN __declspec(dllexport)
#else
#define WINMMAP_EXTERN __attribute__((visibility("default")))
#endif
#else
#define WINMMAP_EXTERN
#endif

#endif
