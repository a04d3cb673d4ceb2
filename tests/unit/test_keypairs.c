/*
 * Unit tests for key pair parsing, fingerprints and private key formats
 * (clc/keypairs.c).  Every expected value below was computed independently
 * of our code, on keys made by ssh-keygen / openssl:
 *   AWS-made RSA:   openssl pkcs8 -topk8 -nocrypt -in k.pem -outform DER | openssl sha1 -c
 *   imported RSA:   ssh-keygen -e -m PKCS8 -f k.pub | openssl pkey -pubin -outform DER
 *                   | openssl md5 -c       (not `ssh-keygen -l -E md5`: AWS hashes the DER)
 *   ED25519:        awk '{print $2}' k.pub | base64 -d | openssl dgst -sha256 -binary | base64
 *   other forms:    ssh-keygen -e (RFC 4716), -e -m PKCS8 (SPKI PEM), -e -m PEM (PKCS#1)
 *   PuTTY files:    puttygen k -O private -o k.ppk --ppk-param version=2 -C kp-comment
 */
#include "tests/unit/harness.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clc/keypairs.h"
#include "common/buf.h"
#include "common/codec.h"

static const char RSA2048_PEM[] =
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEAvoFQygP54GA34VCu4NtzTHG2pXGs9phsoosJVk0wvQzlTvME\n"
    "T15KwIWrmaHufHjKH8ld59LdZ5HRrA3mx+ZWnMEEeG5KgbTpvZwzXDsrV4JrOyjg\n"
    "Mj4myN+zKbM14WKbdv7n7BV6KWBdvokohYOIjSoqa6oBcebUGjvJnk59vXHk2wcs\n"
    "c2JwLAD0oKInLybl8d7lXMcpU9XLnxYOv9XfEde6WBQaT09Si8kCtbIeZzCT22Jb\n"
    "WmXzJBLITyZx5ygXIaRarKYtzqOeXCrGg7djn1/nLWL8kQkYEeDFw+iHKarLX3o3\n"
    "Chj77PxsxDqVtzCuGF3fblNnpxM/zbyEdzlsXwIDAQABAoIBAAj6rWUoNNHnlxqu\n"
    "o9+DWHbk8TfxGLbyzkQHC6SetMpkXjaPa8eV6S4T3te58zS4uMYwxpVTsg3cqKZU\n"
    "bWlEqRZwXpaSlD5y2YWPZDhXrZ5NTmKWdaLInSlgqeAwSzzZWfyM3T+ab4ydty1w\n"
    "55ELdxc4QpGajMDioWKvKLymdHTGYY4swDKX0ThNmvsPJFTas9j/Tgt6qtWaA2XP\n"
    "Hj2/Zhz7hXBGbpOSz88qlVorY8q3+1cv3ZjvS+/45huqW/wD7BAmP7CbujbQFSwD\n"
    "Tw82R+uetleGnwvuidP3JjFP44jmDKn7buC0S874QDDT1Xg/lxxMweCYQANm1lXH\n"
    "Btgze3kCgYEA+Dq+aA7WAP7JlFiAFX1rGtkVK1iPV6CL3LN9camMo74LjuOFExZH\n"
    "tjUQPYb6ebAHMvsc3nJfsk/L0vxkTDNQVlZ9K76UefHPoaV127aTgEbPtcYHg2IR\n"
    "PzcDw8oX4R4LTk+vvYUpdEVDeJwhuTlXnpODTMW6pZM66SIhuTDHATsCgYEAxHf7\n"
    "VNCdsA67nuFGgGpK8VOzA/VoRl2b5Xy/+ZYb0/NxzSknSAfFHQuFl/QQPVyZK+e2\n"
    "jAGPAdJ3rpWZfBwbX1O0ake0e7YvEVdxne7sw/HUPH09QnC44di14LRxMIvykLNL\n"
    "cHl8Cv1TwBrVyoA/DLXX/TTPZ7CoC16ATjLHTy0CgYBeVaTK0uiNVEazM7bpc9Ji\n"
    "T6F16aAAAylj5GqF6ZNjHvQxh1GpYUw7eIsFduh1mmoB++CKwRiRITYqpnRPaSjc\n"
    "xt2m5DR062qm2cSijQ4dL8v8Hpf4XCqFxZiOrZzJlqthRXNaKOMKJtBvY5aFV79u\n"
    "qky5vmMiTYOT2b7LLDhUxQKBgHrUfFhJWNyySVCKjPZJ/fKknn3yFrAvZAD0nl0f\n"
    "IOTBBbv7Z6ib2vtOscYPe3uxgb22TyV27/52pAaNVvkF5YMSpO/xRoA1pXWVEt5n\n"
    "erUCYusybXM1YBEq2ILUrRNp20vmHFsESK3iNVMcM983kLOUmKWgN68e/eClw1eg\n"
    "XYU9AoGBANbvfNizk7kWK0f9KLCC1eB1xWqLVtDCCEyvZilf1S4TlwFEazi2hf8r\n"
    "MVlDhfW9caFLwWjd60s9rk4h6Aw/N6DvrtERxczWs/3Yx+AXxKjcAoGsH8E02tTf\n"
    "n5oleFsuPbCw90Oyw/qcoQz/3BOEO/MEcB5aONJSpvH7KExoeXJv\n"
    "-----END RSA PRIVATE KEY-----\n";
static const char RSA2048_PUB[] =
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC+gVDKA/ngYDfhUK7g23NMcbalcaz2mGyiiwlWTTC9DOVO8wRP"
    "XkrAhauZoe58eMofyV3n0t1nkdGsDebH5lacwQR4bkqBtOm9nDNcOytXgms7KOAyPibI37MpszXhYpt2/ufsFXop"
    "YF2+iSiFg4iNKiprqgFx5tQaO8meTn29ceTbByxzYnAsAPSgoicvJuXx3uVcxylT1cufFg6/1d8R17pYFBpPT1KL"
    "yQK1sh5nMJPbYltaZfMkEshPJnHnKBchpFqspi3Oo55cKsaDt2OfX+ctYvyRCRgR4MXD6IcpqstfejcKGPvs/GzE"
    "OpW3MK4YXd9uU2enEz/NvIR3OWxf\n";
static const char RSA2048_PPK[] =
    "PuTTY-User-Key-File-2: ssh-rsa\n"
    "Encryption: none\n"
    "Comment: kp-comment\n"
    "Public-Lines: 6\n"
    "AAAAB3NzaC1yc2EAAAADAQABAAABAQC+gVDKA/ngYDfhUK7g23NMcbalcaz2mGyi\n"
    "iwlWTTC9DOVO8wRPXkrAhauZoe58eMofyV3n0t1nkdGsDebH5lacwQR4bkqBtOm9\n"
    "nDNcOytXgms7KOAyPibI37MpszXhYpt2/ufsFXopYF2+iSiFg4iNKiprqgFx5tQa\n"
    "O8meTn29ceTbByxzYnAsAPSgoicvJuXx3uVcxylT1cufFg6/1d8R17pYFBpPT1KL\n"
    "yQK1sh5nMJPbYltaZfMkEshPJnHnKBchpFqspi3Oo55cKsaDt2OfX+ctYvyRCRgR\n"
    "4MXD6IcpqstfejcKGPvs/GzEOpW3MK4YXd9uU2enEz/NvIR3OWxf\n"
    "Private-Lines: 14\n"
    "AAABAAj6rWUoNNHnlxquo9+DWHbk8TfxGLbyzkQHC6SetMpkXjaPa8eV6S4T3te5\n"
    "8zS4uMYwxpVTsg3cqKZUbWlEqRZwXpaSlD5y2YWPZDhXrZ5NTmKWdaLInSlgqeAw\n"
    "SzzZWfyM3T+ab4ydty1w55ELdxc4QpGajMDioWKvKLymdHTGYY4swDKX0ThNmvsP\n"
    "JFTas9j/Tgt6qtWaA2XPHj2/Zhz7hXBGbpOSz88qlVorY8q3+1cv3ZjvS+/45huq\n"
    "W/wD7BAmP7CbujbQFSwDTw82R+uetleGnwvuidP3JjFP44jmDKn7buC0S874QDDT\n"
    "1Xg/lxxMweCYQANm1lXHBtgze3kAAACBAPg6vmgO1gD+yZRYgBV9axrZFStYj1eg\n"
    "i9yzfXGpjKO+C47jhRMWR7Y1ED2G+nmwBzL7HN5yX7JPy9L8ZEwzUFZWfSu+lHnx\n"
    "z6Glddu2k4BGz7XGB4NiET83A8PKF+EeC05Pr72FKXRFQ3icIbk5V56Tg0zFuqWT\n"
    "OukiIbkwxwE7AAAAgQDEd/tU0J2wDrue4UaAakrxU7MD9WhGXZvlfL/5lhvT83HN\n"
    "KSdIB8UdC4WX9BA9XJkr57aMAY8B0neulZl8HBtfU7RqR7R7ti8RV3Gd7uzD8dQ8\n"
    "fT1CcLjh2LXgtHEwi/KQs0tweXwK/VPAGtXKgD8Mtdf9NM9nsKgLXoBOMsdPLQAA\n"
    "AIEA1u982LOTuRYrR/0osILV4HXFaotW0MIITK9mKV/VLhOXAURrOLaF/ysxWUOF\n"
    "9b1xoUvBaN3rSz2uTiHoDD83oO+u0RHFzNaz/djH4BfEqNwCgawfwTTa1N+fmiV4\n"
    "Wy49sLD3Q7LD+pyhDP/cE4Q78wRwHlo40lKm8fsoTGh5cm8=\n"
    "Private-MAC: 1aa5018f47ce57c3be3354ac8b1d1a5d59357657\n";
static const char ED_PUB_LINE[] =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFZdEYqnNfW0URKXabo7smq8CQopprGhVIwP9mFaDoSc kp-comm"
    "ent\n";
static const char ED_PPK[] =
    "PuTTY-User-Key-File-2: ssh-ed25519\n"
    "Encryption: none\n"
    "Comment: kp-comment\n"
    "Public-Lines: 2\n"
    "AAAAC3NzaC1lZDI1NTE5AAAAIFZdEYqnNfW0URKXabo7smq8CQopprGhVIwP9mFa\n"
    "DoSc\n"
    "Private-Lines: 1\n"
    "AAAAIGp0fINggMYZiNyB6h09+e1tNuTBfsCnY1VgBvpCt7Ba\n"
    "Private-MAC: 06b7245aff31fc07d1389b6ee5baccc81cf4d3c7\n";
static const char R1024_LINE[] =
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQCpkOWp4qjO8I7Htx/THAwQKyRv6EYDOfi8VDyRjv48lwy1rO+C"
    "QerDT2UiyWYWsQlxO7gOZiL29kGqCYmQboUtKC3G9UKcXL2dpHd17Jg2QFd2DcmPN0ynCmyqCyQdyCWXY7G5FObm"
    "q9K8Ih8dMwpHukXv5IXbtifRPqcteK7cYw== x\n";
static const char R1024_RFC4716[] =
    "---- BEGIN SSH2 PUBLIC KEY ----\n"
    "Comment: \"1024-bit RSA, converted by root@vm from OpenSSH\"\n"
    "AAAAB3NzaC1yc2EAAAADAQABAAAAgQCpkOWp4qjO8I7Htx/THAwQKyRv6EYDOfi8VDyRjv\n"
    "48lwy1rO+CQerDT2UiyWYWsQlxO7gOZiL29kGqCYmQboUtKC3G9UKcXL2dpHd17Jg2QFd2\n"
    "DcmPN0ynCmyqCyQdyCWXY7G5FObmq9K8Ih8dMwpHukXv5IXbtifRPqcteK7cYw==\n"
    "---- END SSH2 PUBLIC KEY ----\n";
static const char R1024_PKCS8[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCpkOWp4qjO8I7Htx/THAwQKyRv\n"
    "6EYDOfi8VDyRjv48lwy1rO+CQerDT2UiyWYWsQlxO7gOZiL29kGqCYmQboUtKC3G\n"
    "9UKcXL2dpHd17Jg2QFd2DcmPN0ynCmyqCyQdyCWXY7G5FObmq9K8Ih8dMwpHukXv\n"
    "5IXbtifRPqcteK7cYwIDAQAB\n"
    "-----END PUBLIC KEY-----\n";
static const char R1024_PKCS1[] =
    "-----BEGIN RSA PUBLIC KEY-----\n"
    "MIGJAoGBAKmQ5aniqM7wjse3H9McDBArJG/oRgM5+LxUPJGO/jyXDLWs74JB6sNP\n"
    "ZSLJZhaxCXE7uA5mIvb2QaoJiZBuhS0oLcb1QpxcvZ2kd3XsmDZAV3YNyY83TKcK\n"
    "bKoLJB3IJZdjsbkU5uar0rwiHx0zCke6Re/khdu2J9E+py14rtxjAgMBAAE=\n"
    "-----END RSA PUBLIC KEY-----\n";
static const char R4096_LINE[] =
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAACAQC0q2qj5pm3I/1ZK0K8aACTn30hWyf1m/HM01EXNkcpvCOXAgBH"
    "dyPDgcjJpdP09GDIrT9OHFkcvoJS/3/f0dvfFLYNKjKfFChjVpzJ84XlI6+XUnwJVo0IFKRIfneGjt5j4H1RsR5u"
    "XtSE8IKXMbv5WEBCZI/j9lz6NCmkpOCcRUJ1F9MlNnsWf10Gi7oph6Rqjm45JZlg2K/PDbiDS+lNgkm6+FOInrqA"
    "aV6MhQPc5InJ1MSpby9r+Am4Bo8B9v0gduln4sAUfqW05jKix5R3f0L2TMXt2X47FEfdqHnR54DW7DXLoU3+V7Le"
    "BP8ZNEmFHk/qcX8ht55w4y4xKSPRjGX9czHigj4YRoOocK0K9Nlax8eNQsGvgMXJJwWjiHWxfg1qT3ApXsOoisFa"
    "MxyVXb8NKET4s1hKvIlIp+Wxp5rPOLukenrgOlnBcAow275YqCoVs3oKdy/KBGxupLwxKDvS9r9DIsSZ7+kedLLu"
    "0YZ2rTVTmVjh9pYDsIy4ND82sYrgmA42uJHscjMEQkTCiTI30FGkIbGjQZnuZXINJbFE5mxUKj95ADd2sb1CteJv"
    "bMpBCQGBPYu+ULylvexx6U30QpF0m8DktVS4O9MphgpjVlYzICCZGS7gErV8zwfMoUoSFa59OSStSb5Y4I8HSH3u"
    "zyMy2Rw+4UP5K0u2rQ== x\n";
static const char R4104_LINE[] =
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAACAgCCSRPaGXQu8mQIjugaSHH36fHnusx56FZFEODmt28V6xgdABxI"
    "paE65z7Qy5QMwLS22PQ1FC8lu3N0IUOhKiW9dmJ9S6qMC8bFX2Sm2/y4xH48VBjVKwJnMvrlpdFqAXNhmdcfx5p6"
    "hNVzzI/iPChlUvsW8RC0nAT7QwJN9aDcVJBSG8h5YEsNxg0FpMQX2nvhETgmHSqtsLr0blp6VnWXU3LboEK3LvRe"
    "LQbSYNKrIXGvq6Xa6ZqDULeya8/i1SvNYJ8Rc2ixXAhOZhpGBNVgF/3VANXavmPrwYEWRUsP557LtykvDBFPcvla"
    "9f7XavTLVH0Ts6cyemIWGhjJuDmRZ+2/sj79LH+U/H4jf4VvxEWc1F6PkyUbZvnzXwu/hSm1/3E7sP43wHOVW4Pk"
    "gUtvZwwB0+YxmRqlRMOipAzibamFtiUeY/HbNN4LKEZCBcZoK5nMIHvP7GEFPCaZlKRXzWe9wlHOKDHdFrxjXHWx"
    "yrNepQz7w/X9DGjJNBOSDdjhAmdWv0bCLKQRxR57YrlYZZONvNf09PssuBQ4kRp4q4wV6/wEJYlyjPd/6QW006IY"
    "U1HTW8uPVq0ezueyhSvsSDfOZHciRnx2bqXGKCWwmHhOEAgRhiPEgx8Q4BH2PwC2XKDa5rN9fYw7AMECkYksbUur"
    "PsvlPkGo5Ueu+rapi8E= x\n";
static const char R768_PEM[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MHwwDQYJKoZIhvcNAQEBBQADawAwaAJhALOebsLxXW6xhY/I0Kz602sdxNayBtrt\n"
    "rWLdmxwSHU6M1Q3ZEOkOzGdvrUozAVI2mkI8NEMxtU7RDY3uhl7aJXuReLP2Jqwk\n"
    "oVC+HCA4PruX5ZXmlJqdZHRwU4SdBpTuEQIDAQAB\n"
    "-----END PUBLIC KEY-----\n";
static const char E35_PEM[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIGdMA0GCSqGSIb3DQEBAQUAA4GLADCBhwKBgQC0pgNn0pZTxoTQw0kyOumMdY98\n"
    "m7pm/3XU0NMnvD3Kk5EJZcUZBezmT7ANZg1ciGjDJKZWsqzE0WiOUDmjSs8bmKls\n"
    "TofQjCynyIzOpiu8LJ5FlPI7m5gej0yl2UpEZbp/n4arh65PIiaxukFSIVyi0b7s\n"
    "h2m3KImVZdxsbPJe4wIBIw==\n"
    "-----END PUBLIC KEY-----\n";
static const char EC_LINE[] =
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBKWRg03sJKCmMg6C"
    "pjeAYJVADUGfdjtSLVI/CuU3lmIZDjGafrLhLN9fLsPo50cqntvikj09zmJ/T4TjR2yO1VA= x\n";
static const char DSA_LINE[] =
    "ssh-dss AAAAB3NzaC1kc3MAAACBAJBiTkTQ92krFrcy1kCsOuMBF6QG77CPH9yh4Nyk+zbkfH/ZK8cYs+mPiAg3"
    "D9IgoxEo99TlFk9Qpz/wtbT6aP079qGORnPw9wNv70kPXhoCodwueG3S2eqKxiKBUnVuni2fAdVletjqaTKnyb5R"
    "NgeMKVH7NnxGmXFHcNkw088LAAAAFQD5P6zOo3Ju+/T5945XovxXr0pExwAAAIAGSQuggzsim2n7FbC8mIzYK2eQ"
    "6gK+FBBErGzMtX+bo82+Vf4YYF46maVW19PipbEuXgWgZDkxP0+ilri69KyI6Ops0/ssDvM3vEFW5UfBLEf28Fbe"
    "puFtb5vGxoMjf61uT7d5IouKXnnZVsy5WqbBZ3zT+n8hM8o9/sWHu5UjewAAAIBingrHb3Qtak9v0/uXS+bOD2aC"
    "S40Q3Sav2bsAh19YlNhbLFOL8x8iP4l9uNhzX5HPoRFlXboU6JPWPb/hgNMjm9fwCf/eYbjzfPlckQIr+Su/sga9"
    "UXp4QyPzxIz6syYFBkYqQKwcLRLoYsM0aEqMfG7P56xtb/afH1bxdprk9Q== x\n";
static const char ED_SPKI_PEM[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAPiIAD6JqgiQHPu3SCCrI76z9DeJg2XUMELqCpMDYsmI=\n"
    "-----END PUBLIC KEY-----\n";

static const char RSA2048_SHA1_FP[] = "02:e9:de:e1:f4:c4:af:8a:74:7b:1c:2f:8c:1b:23:ab:e9:6e:1d:31";
static const char RSA2048_MD5_FP[] = "8f:1b:94:9d:e6:70:22:51:a3:93:09:2a:dd:06:8b:8f";
static const char R1024_FP[] = "a7:1c:9b:c2:c3:ca:fe:35:43:82:f1:c2:5d:72:69:a9";
static const char R4096_FP[] = "61:2c:31:60:c4:63:d1:85:0d:79:cc:2f:35:b1:35:40";
static const char E35_FP[] = "b7:8b:48:ea:3e:d1:17:e8:2d:be:d0:f9:27:35:6e:06";
static const char ED_FP[] = "dQgValfoeKRLrDciKFeXoX2NaBWQnCC4Ev52wdCD/i0=";
static const char ED_SPKI_FP[] = "+as4Ew664XNaYQM9AjVvzb7BYrFZPbuxAzX9GTgn65c=";
/* The private seed of ED_PUB_LINE, read from ssh-keygen's file by hand. */
static const char ED_SEED_HEX[] =
    "6a747c836080c61988dc81ea1d3df9ed6d36e4c17ec0a763556006fa42b7b05a";
/* base64 DER of R1024 (openssl pkey -pubin -outform DER | base64) */
static const char R1024_DER_B64[] =
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCpkOWp4qjO8I7Htx/THAwQKyRv6EYDOfi8VDyRjv48lwy1rO+C"
    "QerDT2UiyWYWsQlxO7gOZiL29kGqCYmQboUtKC3G9UKcXL2dpHd17Jg2QFd2DcmPN0ynCmyqCyQdyCWXY7G5FObm"
    "q9K8Ih8dMwpHukXv5IXbtifRPqcteK7cYwIDAQAB";

/* Parses text and checks its type and import fingerprint. */
static void check_import(const char *text, size_t len, const char *type, const char *fp,
                         int line)
{
    struct clc_pubkey k;
    struct oc_buf got = { 0 };
    struct oc_err err = { 0 };
    int rc = clc_pubkey_parse(text, len, &k, &err);

    if (rc != 0) {
        oc_test_fail(__FILE__, line, "parse failed: %s", err.msg);
        return;
    }
    if (strcmp(k.type, type) != 0)
        oc_test_fail(__FILE__, line, "type %s, expected %s", k.type, type);
    if (clc_pubkey_fingerprint(k.pkey, &got) != 0 || strcmp(oc_buf_cstr(&got), fp) != 0)
        oc_test_fail(__FILE__, line, "fingerprint %s, expected %s", oc_buf_cstr(&got), fp);
    EVP_PKEY_free(k.pkey);
    oc_buf_free(&got);
}
#define CHECK_IMPORT(text, type, fp) check_import(text, strlen(text), type, fp, __LINE__)

static void check_rejected(const char *text, size_t len, int line)
{
    struct clc_pubkey k;
    struct oc_err err = { 0 };
    int rc = clc_pubkey_parse(text, len, &k, &err);

    if (getenv("KP_DEBUG"))
        fprintf(stderr, "rejected: %s\n", err.msg);
    if (rc != OC_EINVAL || k.pkey != NULL || !err.msg[0])
        oc_test_fail(__FILE__, line, "accepted (rc %d) %.40s", rc, text);
    EVP_PKEY_free(k.pkey);
}
#define CHECK_REJECTED(text) check_rejected(text, strlen(text), __LINE__)

static EVP_PKEY *load_private_pem(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;

    BIO_free(bio);
    return pkey;
}

static EVP_PKEY *load_ed_seed(void)
{
    uint8_t seed[32];

    if (oc_hex_decode(ED_SEED_HEX, 64, seed, sizeof(seed)) != 32)
        return NULL;
    return EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
}

OC_TEST(keypairs_import_fingerprints)
{
    CHECK_IMPORT(RSA2048_PUB, "rsa", RSA2048_MD5_FP);
    CHECK_IMPORT(R1024_LINE, "rsa", R1024_FP);
    CHECK_IMPORT(R4096_LINE, "rsa", R4096_FP);
    CHECK_IMPORT(ED_PUB_LINE, "ed25519", ED_FP);
    /* Exponent 35 (old ssh-keygen) is still a usable key. */
    CHECK_IMPORT(E35_PEM, "rsa", E35_FP);
}

OC_TEST(keypairs_import_forms_of_one_key)
{
    char wrapped[512];
    uint8_t der[512];
    long n;
    size_t w = 0, len = strlen(R1024_DER_B64);

    /* AWS's three documented forms, PEM twice over, and binary DER. */
    CHECK_IMPORT(R1024_LINE, "rsa", R1024_FP);
    CHECK_IMPORT(R1024_RFC4716, "rsa", R1024_FP);
    CHECK_IMPORT(R1024_DER_B64, "rsa", R1024_FP);
    CHECK_IMPORT(R1024_PKCS8, "rsa", R1024_FP);
    CHECK_IMPORT(R1024_PKCS1, "rsa", R1024_FP);
    for (size_t i = 0; i < len; i++) {
        wrapped[w++] = R1024_DER_B64[i];
        if (i % 64 == 63)
            wrapped[w++] = '\n';
    }
    wrapped[w++] = '\n';
    wrapped[w] = 0;
    CHECK_IMPORT(wrapped, "rsa", R1024_FP);
    n = oc_base64_decode(R1024_DER_B64, len, der, sizeof(der));
    CHECK(n > 0);
    check_import((const char *)der, (size_t)n, "rsa", R1024_FP, __LINE__);
    /* A line with CRLF, no comment, tabs, surrounding blank lines. */
    CHECK_IMPORT("\r\n  ssh-rsa\tAAAAB3NzaC1yc2EAAAADAQABAAAAgQCpkOWp4qjO8I7Htx/THAwQKyRv6EYDOfi8V"
                 "DyRjv48lwy1rO+CQerDT2UiyWYWsQlxO7gOZiL29kGqCYmQboUtKC3G9UKcXL2dpHd17Jg2QFd2Dc"
                 "mPN0ynCmyqCyQdyCWXY7G5FObmq9K8Ih8dMwpHukXv5IXbtifRPqcteK7cYw==\r\n\r\n",
                 "rsa", R1024_FP);
    /* ED25519 as SubjectPublicKeyInfo PEM (openssl pkey -pubout). */
    CHECK_IMPORT(ED_SPKI_PEM, "ed25519", ED_SPKI_FP);
}

OC_TEST(keypairs_rejects_bad_keys)
{
    static const char *const bad[] = {
        "",
        "   \n",
        "garbage",
        "ssh-rsa",
        "ssh-rsa ",
        "ssh-rsa not-base64!!",
        /* type on the line differs from the type in the blob */
        "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIFZdEYqnNfW0URKXabo7smq8CQopprGhVIwP9mFaDoSc",
        /* ed25519 blob cut short, and with a byte too many */
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFZdEYqnNfW0URKXabo7smq8CQopprGhVIwP9mFa",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFZdEYqnNfW0URKXabo7smq8CQopprGhVIwP9mFaDoScAA==",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        "-----BEGIN PUBLIC KEY-----\n",
        /* RFC 4716 without its END line */
        "---- BEGIN SSH2 PUBLIC KEY ----\nAAAAB3NzaC1yc2EAAAADAQABAAAAgQCpkOWp4qjO8I7Htx\n",
        /* a private key is not a public key */
        RSA2048_PEM,
        /* DSA and ECDSA are refused, as on EC2 */
        DSA_LINE,
        EC_LINE,
        /* RSA outside 1024..4096 bits */
        R768_PEM,
        R4104_LINE,
        /* even exponent (e = 2) on a 1024-bit modulus */
        "ssh-rsa AAAAB3NzaC1yc2EAAAABAgAAAIEAqZDlqeKozvCOx7cf0xwMECskb+hGAzn4vFQ8kY7+PJcMtazvgkHq"
        "w09lIslmFrEJcTu4DmYi9vZBqgmJkG6FLSgtxvVCnFy9naR3deyYNkBXdg3JjzdMpwpsqgskHcgll2OxuRTm5q"
        "vSvCIfHTMKR7pF7+SF27Yn0T6nLXiu3GM=",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_REJECTED(bad[i]);
    /* binary garbage starting like DER */
    check_rejected("\x30\x82\x01\x00\xff\x00", 6, __LINE__);
}

OC_TEST(keypairs_openssh_line_round_trip)
{
    struct clc_pubkey k;
    struct oc_buf line = { 0 };
    struct oc_err err = { 0 };
    const char *sources[] = { RSA2048_PUB, ED_PUB_LINE, R4096_LINE };

    /* The stored form is ssh-keygen's line without its comment. */
    for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
        const char *sp;

        CHECK_INT(clc_pubkey_parse(sources[i], strlen(sources[i]), &k, &err), 0);
        CHECK_INT(clc_pubkey_openssh(k.pkey, &line), 0);
        sp = strchr(sources[i], ' ');
        sp = sp ? strpbrk(sp + 1, " \n") : NULL;
        CHECK(sp && line.len == (size_t)(sp - sources[i]));
        CHECK(strncmp(oc_buf_cstr(&line), sources[i], line.len) == 0);
        EVP_PKEY_free(k.pkey);
        oc_buf_reset(&line);
    }
    /* From PEM to the OpenSSH line: the same as ssh-keygen's. */
    CHECK_INT(clc_pubkey_parse(R1024_PKCS8, strlen(R1024_PKCS8), &k, &err), 0);
    CHECK_INT(clc_pubkey_openssh(k.pkey, &line), 0);
    CHECK(strncmp(oc_buf_cstr(&line), R1024_LINE, line.len) == 0 && R1024_LINE[line.len] == ' ');
    EVP_PKEY_free(k.pkey);
    oc_buf_free(&line);
}

OC_TEST(keypairs_created_rsa_fingerprint)
{
    EVP_PKEY *pkey = load_private_pem(RSA2048_PEM);
    struct oc_buf fp = { 0 }, pem = { 0 }, line = { 0 };

    CHECK(pkey != NULL);
    if (!pkey)
        return;
    CHECK_INT(clc_privkey_fingerprint(pkey, &fp), 0);
    CHECK_STR(oc_buf_cstr(&fp), RSA2048_SHA1_FP);
    oc_buf_reset(&fp);
    /* Imported, the same key has the MD5 fingerprint. */
    CHECK_INT(clc_pubkey_fingerprint(pkey, &fp), 0);
    CHECK_STR(oc_buf_cstr(&fp), RSA2048_MD5_FP);
    /* What CreateKeyPair returns for RSA is the PKCS#1 PEM itself. */
    CHECK_INT(clc_privkey_material(pkey, "pem", "ignored", &pem), 0);
    CHECK_STR(oc_buf_cstr(&pem), RSA2048_PEM);
    CHECK_INT(clc_pubkey_openssh(pkey, &line), 0);
    CHECK(strncmp(oc_buf_cstr(&line), RSA2048_PUB, line.len) == 0);
    EVP_PKEY_free(pkey);
    oc_buf_free(&fp);
    oc_buf_free(&pem);
    oc_buf_free(&line);
}

OC_TEST(keypairs_ppk_matches_puttygen)
{
    EVP_PKEY *rsa = load_private_pem(RSA2048_PEM), *ed = load_ed_seed();
    struct oc_buf out = { 0 };

    CHECK(rsa && ed);
    if (!rsa || !ed)
        goto cleanup;
    CHECK_INT(clc_privkey_material(rsa, "ppk", "kp-comment", &out), 0);
    CHECK_STR(oc_buf_cstr(&out), RSA2048_PPK);
    oc_buf_reset(&out);
    CHECK_INT(clc_privkey_material(ed, "ppk", "kp-comment", &out), 0);
    CHECK_STR(oc_buf_cstr(&out), ED_PPK);
cleanup:
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ed);
    oc_buf_free(&out);
}

/* Reads one uint32-length string of the OpenSSH wire format. */
static int wire_string(const uint8_t **p, const uint8_t *end, const uint8_t **s, size_t *n)
{
    uint32_t len;

    if (end - *p < 4)
        return -1;
    len = (uint32_t)(*p)[0] << 24 | (uint32_t)(*p)[1] << 16 | (uint32_t)(*p)[2] << 8 | (*p)[3];
    if ((size_t)(end - *p - 4) < len)
        return -1;
    *s = *p + 4;
    *n = len;
    *p += 4 + len;
    return 0;
}

OC_TEST(keypairs_ed25519_openssh_private_format)
{
    EVP_PKEY *ed = load_ed_seed();
    struct oc_buf out = { 0 }, b64 = { 0 };
    uint8_t bin[1024], seed[32];
    const uint8_t *p, *end, *s, *q, *qend;
    size_t n;
    long len;
    static const char begin[] = "-----BEGIN OPENSSH PRIVATE KEY-----\n";
    static const char endl[] = "-----END OPENSSH PRIVATE KEY-----\n";
    const char *body, *tail;

    CHECK(ed != NULL);
    if (!ed)
        return;
    CHECK_INT(clc_privkey_material(ed, NULL, NULL, &out), 0);
    body = oc_buf_cstr(&out);
    CHECK(strncmp(body, begin, strlen(begin)) == 0);
    tail = strstr(body, endl);
    CHECK(tail && tail[strlen(endl)] == 0);
    if (!tail)
        goto cleanup;
    for (const char *c = body + strlen(begin); c < tail; c++)
        if (*c != '\n')
            CHECK_INT(oc_buf_putc(&b64, *c), 0);
    len = oc_base64_decode(b64.data, b64.len, bin, sizeof(bin));
    CHECK(len > 15);
    if (len <= 15)
        goto cleanup;
    p = bin;
    end = bin + len;
    /* PROTOCOL.key: magic, cipher, kdf, kdf options, count, public, private. */
    CHECK(memcmp(p, "openssh-key-v1", 15) == 0);
    p += 15;
    CHECK(wire_string(&p, end, &s, &n) == 0 && n == 4 && memcmp(s, "none", 4) == 0);
    CHECK(wire_string(&p, end, &s, &n) == 0 && n == 4 && memcmp(s, "none", 4) == 0);
    CHECK(wire_string(&p, end, &s, &n) == 0 && n == 0);
    CHECK(end - p >= 4 && p[0] == 0 && p[1] == 0 && p[2] == 0 && p[3] == 1);
    p += 4;
    /* The public blob is the one in ssh-keygen's .pub line. */
    CHECK(wire_string(&p, end, &s, &n) == 0);
    CHECK_INT(n, 51);
    {
        uint8_t pubblob[64];
        const char *b = strchr(ED_PUB_LINE, ' ') + 1;
        long pn = oc_base64_decode(b, (size_t)(strchr(b, ' ') - b), pubblob, sizeof(pubblob));

        CHECK(pn == 51 && memcmp(pubblob, s, 51) == 0);
    }
    CHECK(wire_string(&p, end, &q, &n) == 0 && p == end);
    qend = q + n;
    CHECK(n % 8 == 0 && n >= 8 && memcmp(q, q + 4, 4) == 0);
    q += 8;
    CHECK(wire_string(&q, qend, &s, &n) == 0 && n == 11 && memcmp(s, "ssh-ed25519", 11) == 0);
    CHECK(wire_string(&q, qend, &s, &n) == 0 && n == 32);
    CHECK(wire_string(&q, qend, &s, &n) == 0 && n == 64);
    CHECK_INT(oc_hex_decode(ED_SEED_HEX, 64, seed, sizeof(seed)), 32);
    CHECK(memcmp(s, seed, 32) == 0);
    CHECK(wire_string(&q, qend, &s, &n) == 0);     /* comment */
    for (uint8_t pad = 1; q < qend; pad++, q++)
        CHECK_INT(*q, pad);
cleanup:
    EVP_PKEY_free(ed);
    oc_buf_free(&out);
    oc_buf_free(&b64);
}
