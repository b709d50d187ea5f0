// LTI Platform Storage (1EdTech "LTI Client Side postMessages" and "Platform Storage"): for a browser that keeps
// no cookie of Metis's inside the LMS's frame. The login page stores state and nonce in the platform's frame
// (lti.put_data), then goes on to the platform; the launch page reads them back (lti.get_data), and only if both
// match asks Metis, from this page, to complete the launch. The page's settings come from lti/storage.html.
(function () {
  "use strict";
  var TIMEOUT_MS = 5000;
  var config = JSON.parse(document.getElementById("lti-storage").textContent);

  function fail(message) {
    document.getElementById("lti-storage-heading").textContent = "This activity did not open";
    document.getElementById("lti-storage-status").hidden = true;
    document.getElementById("lti-storage-error").textContent = message;
    document.getElementById("lti-storage-failed").hidden = false;
  }

  function messageId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return String(Date.now()) + "-" + String(Math.random()).slice(2);
  }

  function parentWindow() {
    return window.opener || window.parent;
  }

  function frameNamed(name) {
    var parent = parentWindow();
    if (!name || name === "_parent") return parent;
    try {
      return parent.frames[name] || null;
    } catch (e) {
      return null;
    }
  }

  // One request, one answer: the answer must carry our message id and the subject's ".response", and (except for
  // lti.capabilities, which goes to whoever is the parent) come from the platform's origin.
  function send(win, subject, fields, targetOrigin) {
    return new Promise(function (resolve, reject) {
      if (!win || win === window) {
        reject(new Error("no platform frame to send " + subject + " to"));
        return;
      }
      var id = messageId();
      var timer = setTimeout(function () {
        window.removeEventListener("message", listen);
        reject(new Error("the LMS did not answer " + subject));
      }, TIMEOUT_MS);
      function listen(event) {
        var data = event.data;
        if (typeof data !== "object" || data === null) return;
        if (data.subject !== subject + ".response" || data.message_id !== id) return;
        if (targetOrigin !== "*" && event.origin !== targetOrigin) return;
        clearTimeout(timer);
        window.removeEventListener("message", listen);
        if (data.error) {
          reject(new Error("the LMS refused " + subject + ": " + (data.error.message || data.error.code)));
        } else {
          resolve(data);
        }
      }
      window.addEventListener("message", listen);
      var message = { subject: subject, message_id: id };
      Object.keys(fields).forEach(function (key) {
        message[key] = fields[key];
      });
      win.postMessage(message, targetOrigin);
    });
  }

  // lti.capabilities says which frame takes put_data / get_data; a platform that does not answer it may still
  // take them in the frame named by lti_storage_target.
  function storageFrame(subject) {
    return new Promise(function (resolve) {
      send(parentWindow(), "lti.capabilities", {}, "*").then(
        function (data) {
          var found = (data.supported_messages || []).filter(function (m) {
            return m && m.subject === subject;
          })[0];
          resolve(frameNamed(found && found.frame ? found.frame : config.target));
        },
        function () {
          resolve(frameNamed(config.target));
        }
      );
    });
  }

  function put(frame, key, value) {
    return send(frame, "lti.put_data", { key: key, value: value }, config.origin);
  }

  function get(frame, key) {
    return send(frame, "lti.get_data", { key: key }, config.origin).then(function (data) {
      return data.value;
    });
  }

  function login() {
    return storageFrame("lti.put_data")
      .then(function (frame) {
        return Promise.all([
          put(frame, "state_" + config.state, config.state),
          put(frame, "nonce_" + config.nonce, config.nonce),
        ]);
      })
      .then(function () {
        window.location.replace(config.next);
      });
  }

  function launch() {
    return storageFrame("lti.get_data")
      .then(function (frame) {
        return Promise.all([get(frame, "state_" + config.state), get(frame, "nonce_" + config.nonce)]);
      })
      .then(function (values) {
        if (values[0] !== config.state || values[1] !== config.nonce) {
          throw new Error("this launch did not start in this browser; launch again from the LMS");
        }
        var body = new FormData();
        body.append("id_token", config.id_token);
        body.append("state", config.state);
        return fetch(config.next, {
          method: "POST",
          body: body,
          credentials: "same-origin",
          headers: { "X-Metis-Platform-Storage": "checked" },
        });
      })
      .then(function (response) {
        return response.json().then(function (data) {
          if (!response.ok || !data.location) throw new Error(data.error || "the launch was refused");
          window.location.replace(data.location);
        });
      });
  }

  (config.step === "login" ? login() : launch()).catch(function (error) {
    fail("Metis could not open here: " + error.message + ".");
  });
})();
