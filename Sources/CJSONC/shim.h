#ifndef LORAKIT_CJSONC_SHIM_H
#define LORAKIT_CJSONC_SHIM_H
#include <json.h>
#endif
