/* orion/orion.h - all of liborion-client. */
#ifndef ORION_ORION_H
#define ORION_ORION_H

#include "common.h"
#include "client.h"
#include "graph.h"
#include "buffer.h"
#include "list.h"
#include "channel.h"

#endif
