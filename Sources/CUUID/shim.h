// libuuid (util-linux), Debian's uuid-dev: uuid_generate_random, uuid_unparse_lower.
#include <uuid/uuid.h>
