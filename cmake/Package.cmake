# The Debian package, built with CPack's DEB generator. Included at the end of the
# top-level CMakeLists.txt, after cmake/Install.cmake (the package holds exactly what
# `cmake --install` installs, under the prefix /usr).
#
#   cmake -S . -B build-pkg -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_BUILD_TYPE=RelWithDebInfo
#   cmake --build build-pkg --target package-deb      # or: cd build-pkg && cpack -G DEB
#   -> build-pkg/superserverd_0.1.0_amd64.deb
#
# See docs/packaging.md for what the package contains and what its maintainer scripts do.
include_guard(GLOBAL)

if(NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  message(STATUS "Package: CMAKE_INSTALL_PREFIX is ${CMAKE_INSTALL_PREFIX}; the .deb installs "
                 "under /usr but paths configured into files (the pkg-config file, the "
                 "multiarch libdir) follow the configured prefix: configure with "
                 "-DCMAKE_INSTALL_PREFIX=/usr to build a package")
endif()
if(SANITIZE)
  message(STATUS "Package: SANITIZE is ON; a package built from this tree needs the "
                 "sanitizer runtime libraries and is for testing only")
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME superserverd)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "superserverd")
set(SS_DEB_MAINTAINER "superserverd maintainers <superserverd@localhost>"
  CACHE STRING "Maintainer field of the Debian package")
set(CPACK_PACKAGE_CONTACT "${SS_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${SS_DEB_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "inetd-style superserver with per-service processing models")
# The extended description (CPack puts the summary above it and indents every line).
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
"superserverd hosts many small TCP and Unix-socket services described in one
YAML file. Each service runs under the processing model that suits it (one
process per connection, a pre-forked pool, a thread pool or an event loop) as
an unprivileged user with only the capabilities it needs. It supports systemd
socket activation, Type=notify supervision and the watchdog, and superctl shows
per-service statistics and reloads, drains, stops or starts services over a
control socket.

The package installs the daemon, superctl, the systemd units (neither is
enabled or started), an example configuration serving echo and daytime on
127.0.0.1, and the example loadable handler module qotd.")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# <name>_<version>_<arch>.deb
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# Everything under /usr, except what Install.cmake gives absolute paths (/etc, /lib).
# CPACK_SET_DESTDIR makes CPack install with DESTDIR=<staging> and the prefix /usr, so
# absolute destinations land in the package instead of on the build machine, and the
# unit's ExecStart= is rewritten to /usr/sbin/superserverd.
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_SET_DESTDIR ON)
set(CPACK_STRIP_FILES ON)

find_program(SS_DPKG dpkg)
if(SS_DPKG)
  execute_process(COMMAND ${SS_DPKG} --print-architecture
    OUTPUT_VARIABLE _ss_deb_arch OUTPUT_STRIP_TRAILING_WHITESPACE)
  set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE "${_ss_deb_arch}")
endif()

# Runtime dependencies: computed by dpkg-shlibdeps (package dpkg-dev) from the ELF files,
# with the versions the binaries need; without dpkg-dev, the Debian 12 library packages.
#
# procps: the unit's "ExecReload=/bin/kill -HUP $MAINPID". On Debian 12 /bin/kill is in
# procps, which a minimal system (debootstrap --variant=minbase, container images) does
# not have; without it "systemctl reload superserverd" fails with status=203/EXEC
# (found by tests/e2e).
find_program(SS_DPKG_SHLIBDEPS dpkg-shlibdeps)
# CPack's shlibdeps needs file(1) too; without either, the dependencies are listed.
find_program(SS_FILE_UTILITY file)
if(SS_DPKG_SHLIBDEPS AND SS_FILE_UTILITY)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  # dpkg-shlibdeps' result is appended to this.
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "procps")
else()
  message(STATUS "Package: dpkg-shlibdeps not found (apt-get install dpkg-dev); "
                 "listing the dependencies by hand")
  set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libc6, libyaml-0-2, libsystemd0, libcap2, libjansson4, libssl3, procps")
endif()
# systemd-sysusers and systemd-tmpfiles (postinst) and the units; the daemon itself also
# runs without systemd, and postinst falls back to useradd/groupadd (package passwd).
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd")

# Maintainer scripts and the conffile list.
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${CMAKE_SOURCE_DIR}/packaging/debian/conffiles
  ${CMAKE_SOURCE_DIR}/packaging/debian/postinst
  ${CMAKE_SOURCE_DIR}/packaging/debian/prerm
  ${CMAKE_SOURCE_DIR}/packaging/debian/postrm)
# 0644 for conffiles, 0755 for the scripts, whatever the source tree's modes.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)

# `make package_source`: no build trees, no git metadata.
set(CPACK_SOURCE_GENERATOR TGZ)
set(CPACK_SOURCE_IGNORE_FILES "/\\\\.git/" "/build[^/]*/" "/_build[^/]*/" "/\\\\.cache/")

include(CPack)

# `cmake --build BUILD --target package-deb`: builds what is installed, then the .deb in
# the build directory. (`make package` does the same through the "all" target.)
set(_ss_pkg_deps superserverd)
foreach(_ss_t superctl ssmod_qotd man)
  if(TARGET ${_ss_t})
    list(APPEND _ss_pkg_deps ${_ss_t})
  endif()
endforeach()
add_custom_target(package-deb
  COMMAND ${CMAKE_CPACK_COMMAND} -G DEB --config ${CMAKE_BINARY_DIR}/CPackConfig.cmake
  WORKING_DIRECTORY ${CMAKE_BINARY_DIR}
  DEPENDS ${_ss_pkg_deps}
  COMMENT "Building the Debian package"
  VERBATIM)
