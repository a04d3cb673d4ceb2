bin_PROGRAMS += clc/overcast-clc
noinst_LIBRARIES += clc/libclc.a
# Everything but main() lives in libclc.a so tests and fuzzers link it.
clc_libclc_a_SOURCES = \
	clc/clc.h \
	clc/schema.c clc/schema.h \
	clc/api.c clc/api.h \
	clc/params.c \
	clc/identity.c clc/identity.h \
	clc/identity_api.c \
	clc/iam.c clc/ca.c clc/ca.h \
	clc/console.c clc/console.h clc/console_s3.c clc/console_s3.h \
	clc/admin.c \
	clc/bootstrap.c clc/bootstrap.h \
	clc/clusters.c clc/clusters.h \
	clc/filter.c \
	clc/cache.c clc/cache.h \
	clc/describe.c \
	clc/tags.c \
	clc/resource.c \
	clc/ec2_misc.c \
	clc/keypairs.c clc/keypairs.h \
	clc/secgroups.c clc/secgroups_parse.c clc/secgroups.h \
	clc/images.c clc/images.h clc/images_register.c clc/images_walrus.c \
	clc/instances.c clc/instances.h clc/instance_ops.c \
	clc/addresses.c clc/events.c clc/poller.c clc/poller.h clc/metadata.c
clc_overcast_clc_SOURCES = clc/main.c
clc_overcast_clc_LDADD = clc/libclc.a euca-compat/libeuca.a $(OC_COMMON_LIBS)
