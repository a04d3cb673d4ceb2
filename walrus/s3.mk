# The S3 API (walrus/s3*.c); main.c is listed in local.mk.
walrus_libwalrus_a_SOURCES += \
	walrus/s3.c walrus/s3.h walrus/s3_internal.h \
	walrus/s3_errors.c \
	walrus/s3_format.c \
	walrus/s3_bucket.c \
	walrus/s3_list.c \
	walrus/s3_object.c \
	walrus/s3_multipart.c \
	walrus/s3_acl.c \
	walrus/s3_xmlreq.c
