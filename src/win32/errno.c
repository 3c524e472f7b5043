/* The one place where a Win32 error code becomes a POSIX errno value. */
#include "internal.h"

#include <errno.h>

int wm_errno_from_win32(DWORD err)
{
    switch (err) {
    case ERROR_SUCCESS:
        return 0;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
    case ERROR_COMMITMENT_LIMIT:
    case ERROR_NO_SYSTEM_RESOURCES:
    case ERROR_INVALID_ADDRESS: /* the address range is taken or not ours */
        return ENOMEM;
    case ERROR_ACCESS_DENIED:
    case ERROR_SHARING_VIOLATION:
        return EACCES;
    case ERROR_INVALID_HANDLE:
        return EBADF;
    case ERROR_INVALID_PARAMETER:
    case ERROR_MAPPED_ALIGNMENT:
        return EINVAL;
    case ERROR_FILE_INVALID: /* a section over an empty file */
    case ERROR_BAD_EXE_FORMAT:
        return ENODEV;
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
        return ENOSPC;
    case ERROR_USER_MAPPED_FILE:
    case ERROR_BUSY:
        return EBUSY;
    case ERROR_LOCK_VIOLATION:
    case ERROR_WORKING_SET_QUOTA:
        return EAGAIN;
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
        return ENOENT;
    case ERROR_FILE_EXISTS:
    case ERROR_ALREADY_EXISTS:
        return EEXIST;
    case ERROR_FILENAME_EXCED_RANGE:
        return ENAMETOOLONG;
    case ERROR_PRIVILEGE_NOT_HELD:
        return EPERM;
    case ERROR_NOACCESS:
        return EFAULT;
    case ERROR_ARITHMETIC_OVERFLOW:
        return EOVERFLOW;
    default:
        return EIO;
    }
}

int wm_last_errno(void)
{
    int e = wm_errno_from_win32(GetLastError());
    /* A failed call that left no error code still failed. */
    return e ? e : EIO;
}

int wm_taken_errno(void)
{
    return GetLastError() == ERROR_INVALID_ADDRESS ? EEXIST : wm_last_errno();
}

int wm_status(int err)
{
    if (err)
        errno = err;
    return err ? -1 : 0;
}
