#!/usr/bin/env node
// The installed `postfach` command: runs the compiled CLI (npm install builds it).
import "../dist/server/main.js";
