// Included first in module CGRPC. gRPC's port_platform.h defines _GNU_SOURCE before it pulls in
// <pthread.h> and <sys/select.h>; if those headers are first seen here with _GNU_SOURCE set,
// `fd_set` differs from SwiftGlibc's and the two modules clash. Including them first, without
// _GNU_SOURCE, keeps one definition.
#ifndef CGRPC_PRELUDE_H
#define CGRPC_PRELUDE_H
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <sys/types.h>
#include <sys/select.h>
#endif
